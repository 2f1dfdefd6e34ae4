#!/usr/bin/env python3
# build_forms.py — why this exists:
# The three Vamos XLSForms (FIPS household questionnaire, Entorno/community form and the
# simplified self-registration form) are written here as Python data instead of being edited
# by hand in a spreadsheet, so that (1) field names, groups and choice values stay exactly as
# fixed in forms/SPEC.md (the contract with `vamos import` and `vamos synth`), (2) the
# department/district lists are generated from the project's INE code list rather than typed,
# and (3) changes are reviewable as text diffs. Running it rewrites fips.xlsx, comunidad.xlsx
# and registro_simplificado.xlsx next to this file. Needs only openpyxl.
#
#     python3 forms/build_forms.py                 # from the repository root
#     python3 forms/build_forms.py --distritos X   # use another copy of distritos_cnpv2022.csv
#
# Output is deterministic: zip timestamps and document properties are pinned, so rebuilding
# without changes gives byte-identical files.

import argparse
import csv
import io
import re
import sys
import zipfile
from pathlib import Path

try:
    from openpyxl import Workbook
    from openpyxl.styles import Font
except ImportError:  # pragma: no cover
    sys.exit("build_forms.py needs openpyxl: pip install openpyxl")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

VERSION = "2026120701"  # yyyymmddNN; bump on every change that reaches devices
FIXED_TIMESTAMP = "2026-11-23T00:00:00Z"
ZIP_DATE = (2026, 11, 23, 0, 0, 0)

ES = "Español (es)"
EN = "English (en)"

# Column order of the survey sheet. English hint/constraint-message columns are included so
# that every translatable column exists in both languages (otherwise pyxform warns about
# missing translations).
SURVEY_COLUMNS = [
    ("type", "type"),
    ("name", "name"),
    ("label::" + ES, "label"),
    ("label::" + EN, "label_en"),
    ("hint::" + ES, "hint"),
    ("hint::" + EN, "hint_en"),
    ("required", "required"),
    ("relevant", "relevant"),
    ("constraint", "constraint"),
    ("constraint_message::" + ES, "msg"),
    ("constraint_message::" + EN, "msg_en"),
    ("choice_filter", "choice_filter"),
    ("appearance", "appearance"),
    ("calculation", "calculation"),
]

# Candidate locations of the INE district list, first match wins: the repository copy,
# then the shared data folder next to the repository.
DISTRITOS_CANDIDATES = [
    REPO / "data" / "territory" / "distritos_cnpv2022.csv",
    REPO.parent / "shared" / "data" / "paraguay" / "distritos_cnpv2022.csv",
    Path("/work/main/data/territory/distritos_cnpv2022.csv"),
]


# --------------------------------------------------------------------------------------------
# Small helpers to write rows
# --------------------------------------------------------------------------------------------

def q(type_, name, label="", label_en="", hint="", hint_en="", required=False, relevant="",
      constraint="", msg="", msg_en="", choice_filter="", appearance="", calculation=""):
    """One survey row."""
    return {
        "type": type_, "name": name, "label": label, "label_en": label_en,
        "hint": hint, "hint_en": hint_en, "required": "yes" if required else "",
        "relevant": relevant, "constraint": constraint, "msg": msg, "msg_en": msg_en,
        "choice_filter": choice_filter, "appearance": appearance, "calculation": calculation,
    }


def begin_group(name, label, label_en, relevant=""):
    return q("begin group", name, label, label_en, relevant=relevant)


def end_group(name):
    return q("end group", name)


def begin_repeat(name, label, label_en, relevant=""):
    return q("begin repeat", name, label, label_en, relevant=relevant)


def end_repeat(name):
    return q("end repeat", name)


def metadata():
    """Standard ODK metadata; instanceID is added by pyxform under meta/."""
    return [q("start", "start"), q("end", "end"), q("today", "today"),
            q("deviceid", "deviceid")]


def age_at(birth, ref):
    """Completed years between two date expressions (exact, birthday-aware)."""
    return (f"int(format-date({ref}, '%Y')) - int(format-date({birth}, '%Y')) - "
            f"if(number(format-date({ref}, '%m%d')) < number(format-date({birth}, '%m%d')), 1, 0)")


# --------------------------------------------------------------------------------------------
# Territory (read from the INE code list at build time)
# --------------------------------------------------------------------------------------------

def find_distritos(explicit):
    if explicit:
        p = Path(explicit)
        if not p.is_file():
            sys.exit(f"distritos CSV not found: {p}")
        return p
    for p in DISTRITOS_CANDIDATES:
        if p.is_file():
            return p
    sys.exit("distritos_cnpv2022.csv not found; looked in:\n  "
             + "\n  ".join(str(p) for p in DISTRITOS_CANDIDATES))


def load_territory(path):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    need = {"dpto_code", "dpto_name", "clave", "dist_name"}
    if not rows or not need <= set(rows[0]):
        sys.exit(f"{path}: expected columns {sorted(need)}")
    departamentos, distritos, seen = {}, [], set()
    for r in rows:
        dd, clave = r["dpto_code"].strip(), r["clave"].strip()
        if not re.fullmatch(r"\d{2}", dd) or not re.fullmatch(r"\d{4}", clave) \
                or not clave.startswith(dd):
            sys.exit(f"{path}: bad codes dpto_code={dd!r} clave={clave!r}")
        if clave in seen:
            sys.exit(f"{path}: duplicate clave {clave}")
        seen.add(clave)
        name = r["dpto_name"].strip()
        if departamentos.setdefault(dd, name) != name:
            sys.exit(f"{path}: department {dd} has two names")
        distritos.append((clave, r["dist_name"].strip(), dd))
    expected_dptos = [f"{i:02d}" for i in range(18)]
    if sorted(departamentos) != expected_dptos:
        sys.exit(f"{path}: expected departments 00..17, got {sorted(departamentos)}")
    if len(distritos) != 263:
        sys.exit(f"{path}: expected 263 districts, got {len(distritos)}")
    dep_choices = [(code, departamentos[code], departamentos[code]) for code in expected_dptos]
    dist_choices = [(clave, name, name, {"departamento": dd})
                    for clave, name, dd in sorted(distritos)]
    return dep_choices, dist_choices


# --------------------------------------------------------------------------------------------
# Choice lists (names are part of the SPEC.md contract — do not rename)
# --------------------------------------------------------------------------------------------

CHOICES = {
    "si_no": [("si", "Sí", "Yes"), ("no", "No", "No")],
    "si_no_ns": [("si", "Sí", "Yes"), ("no", "No", "No"),
                 ("no_sabe", "No sabe", "Does not know")],
    "area": [("urbana", "Urbana", "Urban"), ("rural", "Rural", "Rural")],
    "tenencia": [
        ("propia", "Propia", "Owned"),
        ("alquilada", "Alquilada", "Rented"),
        ("cedida", "Cedida o prestada", "Lent / provided free of charge"),
        ("ocupada", "Ocupada de hecho", "Occupied without title"),
        ("otra", "Otra", "Other"),
    ],
    "paredes": [
        ("ladrillo", "Ladrillo", "Brick"),
        ("bloque_cemento", "Bloque de cemento", "Cement block"),
        ("madera", "Madera", "Wood"),
        ("adobe", "Adobe", "Adobe"),
        ("estaqueo", "Estaqueo (barro y palo)", "Wattle and daub (estaqueo)"),
        ("carton_hule", "Cartón, hule o desechos", "Cardboard, plastic sheet or scrap"),
        ("otro", "Otro", "Other"),
    ],
    "piso": [
        ("baldosa", "Baldosa, cerámica o mosaico", "Tiles"),
        ("ladrillo", "Ladrillo", "Brick"),
        ("cemento", "Cemento o lecherada", "Cement"),
        ("madera", "Madera", "Wood"),
        ("tierra", "Tierra", "Earth"),
        ("otro", "Otro", "Other"),
    ],
    "techo": [
        ("teja", "Teja", "Clay roof tiles"),
        ("losa", "Losa de hormigón", "Concrete slab"),
        ("zinc", "Chapa de zinc", "Zinc sheet"),
        ("fibrocemento", "Chapa de fibrocemento (eternit)", "Fibre-cement sheet"),
        ("paja", "Paja o karanda'y", "Thatch or palm trunks (karanda'y)"),
        ("carton_hule", "Cartón, hule o desechos", "Cardboard, plastic sheet or scrap"),
        ("otro", "Otro", "Other"),
    ],
    "agua": [
        ("red_essap_senasa", "Red de ESSAP o SENASA", "ESSAP or SENASA network"),
        ("junta_saneamiento", "Junta de saneamiento", "Community sanitation board (junta)"),
        ("red_privada", "Red privada (aguatería)", "Private network (aguatería)"),
        ("pozo_artesiano", "Pozo artesiano", "Artesian (drilled) well"),
        ("pozo_sin_bomba", "Pozo sin bomba", "Well without pump"),
        ("aguatero", "Carro o camión aguatero", "Water truck"),
        ("tajamar_rio", "Tajamar, río, arroyo o naciente", "Pond, river, stream or spring"),
        ("lluvia", "Agua de lluvia (aljibe)", "Rainwater (cistern)"),
        ("otro", "Otro", "Other"),
    ],
    "saneamiento": [
        ("red_cloacal", "Baño conectado a la red cloacal", "Toilet connected to sewer"),
        ("pozo_ciego", "Baño con pozo ciego", "Toilet with septic pit"),
        ("letrina_ventilada", "Letrina ventilada (con caño)", "Ventilated pit latrine"),
        ("letrina_comun", "Letrina común", "Ordinary pit latrine"),
        ("hoyo_abierto", "Hoyo abierto", "Open pit"),
        ("ninguno", "No tiene", "None"),
    ],
    "electricidad": [
        ("ande", "Sí, de la ANDE", "Yes, from ANDE (national grid)"),
        ("generador_solar", "Sí, de generador o panel solar", "Yes, generator or solar panel"),
        ("ninguna", "No tiene", "None"),
    ],
    "combustible": [
        ("gas", "Gas", "Gas (LPG)"),
        ("electricidad", "Electricidad", "Electricity"),
        ("lena", "Leña", "Firewood"),
        ("carbon", "Carbón", "Charcoal"),
        ("otro", "Otro", "Other"),
        ("no_cocina", "No cocinan", "Do not cook"),
    ],
    "basura": [
        ("recoleccion_publica", "La recoge el camión municipal", "Municipal collection"),
        ("recoleccion_privada", "La recoge un servicio privado", "Private collection"),
        ("quema", "La queman", "Burned"),
        ("entierra", "La entierran", "Buried"),
        ("tira_baldio", "La tiran en un baldío, arroyo o la calle",
         "Dumped in a vacant lot, stream or street"),
        ("otro", "Otro", "Other"),
    ],
    "sexo": [("hombre", "Hombre", "Male"), ("mujer", "Mujer", "Female")],
    "relacion": [
        ("jefe", "Jefe o jefa del hogar", "Head of household"),
        ("conyuge", "Cónyuge o pareja", "Spouse or partner"),
        ("hijo", "Hijo o hija (incluye hijastros)", "Son or daughter (incl. stepchildren)"),
        ("yerno_nuera", "Yerno o nuera", "Son- or daughter-in-law"),
        ("nieto", "Nieto o nieta", "Grandchild"),
        ("padre_madre", "Padre o madre", "Father or mother"),
        ("suegro", "Suegro o suegra", "Father- or mother-in-law"),
        ("hermano", "Hermano o hermana", "Brother or sister"),
        ("otro_pariente", "Otro pariente", "Other relative"),
        ("no_pariente", "No pariente", "Non-relative"),
        ("servicio_domestico", "Personal de servicio doméstico", "Live-in domestic worker"),
    ],
    "wg": [
        ("sin_dificultad", "No, sin dificultad", "No difficulty"),
        ("alguna", "Sí, alguna dificultad", "Yes, some difficulty"),
        ("mucha", "Sí, mucha dificultad", "Yes, a lot of difficulty"),
        ("no_puede", "No puede hacerlo en absoluto", "Cannot do at all"),
    ],
    "pueblo": [
        ("ache", "Aché", "Aché"),
        ("ava_guarani", "Ava Guaraní", "Ava Guaraní"),
        ("mbya_guarani", "Mbya Guaraní", "Mbya Guaraní"),
        ("pai_tavytera", "Paĩ Tavyterã", "Paĩ Tavyterã"),
        ("guarani_nandeva", "Guaraní Ñandeva", "Guaraní Ñandeva"),
        ("guarani_occidental", "Guaraní Occidental", "Guaraní Occidental"),
        ("toba_maskoy", "Toba Maskoy", "Toba Maskoy"),
        ("enlhet_norte", "Enlhet Norte", "Enlhet Norte"),
        ("enxet_sur", "Enxet Sur", "Enxet Sur"),
        ("sanapana", "Sanapaná", "Sanapaná"),
        ("angaite", "Angaité", "Angaité"),
        ("guana", "Guaná", "Guaná"),
        ("nivacle", "Nivaclé", "Nivaclé"),
        ("maka", "Maká", "Maká"),
        ("manjui", "Manjui", "Manjui"),
        ("ayoreo", "Ayoreo", "Ayoreo"),
        ("ishir_ybytoso", "Ishir Ybytoso", "Ishir Ybytoso"),
        ("tomaraho", "Tomárãho", "Tomárãho"),
        ("qom", "Qom", "Qom"),
    ],
    "idioma": [
        ("guarani", "Guaraní", "Guaraní"),
        ("castellano", "Castellano", "Spanish"),
        ("portugues", "Portugués", "Portuguese"),
        ("lengua_indigena", "Lengua indígena (otra que el guaraní)",
         "Indigenous language (other than Guaraní)"),
        ("otro", "Otro", "Other"),
    ],
    "nivel": [
        ("ninguno", "Ninguno", "None"),
        ("inicial", "Educación inicial (preescolar)", "Early childhood / pre-school"),
        ("eeb_1_6", "EEB 1.º a 6.º grado (primer y segundo ciclo)",
         "Basic education grades 1–6"),
        ("eeb_7_9", "EEB 7.º a 9.º grado (tercer ciclo)", "Basic education grades 7–9"),
        ("media", "Educación media (bachillerato)", "Upper secondary (bachillerato)"),
        ("tecnica", "Técnica superior", "Higher technical education"),
        ("universitaria", "Universitaria", "University"),
    ],
    "seguro": [
        ("ips", "IPS", "IPS (social security)"),
        ("privado", "Seguro privado", "Private insurance"),
        ("militar_policial", "Sanidad militar o policial", "Military or police health service"),
        ("ninguno", "Ninguno", "None"),
    ],
    "empleo": [
        ("asalariado_publico", "Empleado u obrero público", "Public-sector employee"),
        ("asalariado_privado", "Empleado u obrero privado", "Private-sector employee"),
        ("cuenta_propia", "Trabajador por cuenta propia", "Self-employed / own account"),
        ("empleador", "Empleador o patrón", "Employer"),
        ("familiar_no_remunerado", "Trabajador familiar no remunerado",
         "Unpaid family worker"),
        ("domestico", "Empleado o empleada doméstica", "Domestic worker"),
    ],
    "pension": [
        ("ninguna", "Ninguna", "None"),
        ("ips_jubilacion", "Jubilación o pensión del IPS", "IPS retirement pension"),
        ("otra_caja", "Jubilación de otra caja (fiscal, bancaria, municipal u otra)",
         "Pension from another fund"),
        ("adultos_mayores", "Pensión alimentaria para adultos mayores",
         "Non-contributory old-age pension"),
        ("otra", "Otra pensión", "Other pension"),
    ],
    "programa": [
        ("tekopora", "Tekoporã", "Tekoporã (conditional cash transfer)"),
        ("adultos_mayores", "Pensión alimentaria para adultos mayores",
         "Non-contributory old-age pension"),
        ("abrazo", "Abrazo", "Abrazo (child labour programme)"),
        ("pani", "PANI (complemento nutricional)", "PANI (nutrition programme)"),
        ("alimentacion_escolar", "Alimentación escolar (merienda o almuerzo)",
         "School meals"),
        ("becas", "Becas de estudio", "Study scholarships"),
        ("tenonder", "Tenonderã", "Tenonderã (productive inclusion)"),
        ("ninguno", "Ninguno", "None"),
    ],
    "distancia": [
        ("en_la_comunidad", "En la misma comunidad", "In the community"),
        ("hasta_5km", "Hasta 5 km", "Up to 5 km"),
        ("de_5_a_15km", "Entre 5 y 15 km", "5 to 15 km"),
        ("mas_15km", "A más de 15 km", "More than 15 km"),
    ],
    "prioridad": [
        ("agua", "Agua", "Water"),
        ("caminos", "Caminos", "Roads"),
        ("salud", "Salud", "Health"),
        ("educacion", "Educación", "Education"),
        ("conectividad", "Conectividad (internet, telefonía)", "Connectivity"),
        ("vivienda", "Vivienda", "Housing"),
        ("empleo", "Empleo", "Employment"),
        ("seguridad", "Seguridad", "Safety"),
        ("electricidad", "Electricidad", "Electricity"),
        ("otra", "Otra", "Other"),
    ],
}


# --------------------------------------------------------------------------------------------
# Shared blocks
# --------------------------------------------------------------------------------------------

def ubicacion(relevant="", direccion=True):
    """`ubicacion` group, shared by the three forms (SPEC.md)."""
    rows = [
        begin_group("ubicacion", "Ubicación", "Location", relevant=relevant),
        q("select_one departamento", "departamento", "Departamento", "Department",
          required=True, appearance="minimal"),
        q("select_one distrito", "distrito", "Distrito", "District",
          hint="Solo aparecen los distritos del departamento elegido.",
          hint_en="Only the districts of the chosen department are listed.",
          required=True, choice_filter="departamento=${departamento}", appearance="minimal"),
        q("select_one area", "area", "Área", "Area", required=True),
        q("text", "localidad", "Barrio, compañía o comunidad",
          "Neighbourhood, locality or community",
          hint="Nombre del barrio, compañía, asentamiento o comunidad indígena.",
          hint_en="Name of the barrio, compañía, settlement or indigenous community.",
          required=True),
    ]
    if direccion:
        rows.append(q("text", "direccion", "Dirección o referencia", "Address or landmark",
                      hint="Calle y número, o una referencia para llegar (opcional).",
                      hint_en="Street and number, or directions to get there (optional)."))
    rows += [
        q("geopoint", "gps", "Ubicación GPS", "GPS location",
          hint="Opcional. Tome el punto frente a la vivienda o el lugar de reunión.",
          hint_en="Optional. Capture the point in front of the dwelling or meeting place."),
        end_group("ubicacion"),
    ]
    return rows


def miembros_identidad(ref_date, ref_is_interview):
    """First rows of the `miembros` repeat (identity), shared by FIPS and the simplified form."""
    ref_es = "la fecha de la entrevista" if ref_is_interview else "hoy"
    ref_en = "the interview date" if ref_is_interview else "today"
    birth_ok = f". <= today() and . <= {ref_date} and {age_at('.', ref_date)} <= 120" \
        if ref_is_interview else f". <= today() and {age_at('.', ref_date)} <= 120"
    return [
        q("text", "nombres", "Nombres", "Given names",
          hint="Tal como figuran en la cédula, si tiene.",
          hint_en="As written on the identity card, if any.", required=True),
        q("text", "apellidos", "Apellidos", "Surnames",
          hint="Tal como figuran en la cédula, si tiene.",
          hint_en="As written on the identity card, if any.", required=True),
        q("text", "cedula", "Número de cédula de identidad", "Identity card number",
          hint="Solo números, sin puntos. Déjelo vacío si no tiene o no lo sabe.",
          hint_en="Digits only, no dots. Leave empty if none or unknown.",
          constraint="regex(., '^[0-9]{3,9}$')",
          msg="Escriba solo números, sin puntos ni guiones (entre 3 y 9 dígitos).",
          msg_en="Digits only, no dots or dashes (3 to 9 digits).",
          appearance="numbers"),
        q("date", "fecha_nacimiento", "Fecha de nacimiento", "Date of birth",
          hint="Si no sabe el día exacto, use el 1 del mes; si no sabe el mes, use el 1 de julio.",
          hint_en="If the day is unknown use the 1st; if the month is unknown use 1 July.",
          required=True, constraint=birth_ok,
          msg=f"La fecha de nacimiento no puede ser posterior a {ref_es} ni dar una edad "
              f"mayor a 120 años.",
          msg_en=f"Date of birth cannot be after {ref_en} nor give an age over 120 years.",
          appearance="no-calendar"),
    ]


def sexo_relacion():
    return [
        q("select_one sexo", "sexo", "Sexo", "Sex", required=True),
        q("select_one relacion", "relacion_jefe",
          "¿Qué relación o parentesco tiene con el jefe o la jefa del hogar?",
          "Relationship to the head of household",
          hint="Registre primero al jefe o la jefa del hogar.",
          hint_en="Record the head of household first.",
          required=True,
          constraint="(position(..) = 1 and . = 'jefe') or (position(..) > 1 and . != 'jefe')",
          msg="El primer integrante debe ser el jefe o la jefa del hogar, y solo puede haber uno.",
          msg_en="The first member must be the head of household, and there can be only one."),
    ]


SI = "${consentimiento} = 'si'"


# --------------------------------------------------------------------------------------------
# FIPS
# --------------------------------------------------------------------------------------------

def wg(name, es, en):
    """Washington Group Short Set question (standard wording, asked about each member)."""
    return q("select_one wg", name, es, en,
             hint="Persona: ${nombres} ${apellidos}. Lea las cuatro opciones de respuesta.",
             hint_en="Person: ${nombres} ${apellidos}. Read out the four answer options.",
             required=True)


def fips_survey():
    rows = metadata() + [
        q("note", "aviso_confidencialidad",
          "Los datos de esta ficha son confidenciales. Se usan solo para la gestión de la "
          "protección social, en el Sistema Integrado de Información Social (SIIS, Decreto "
          "N.º 4509/2015), y no se comparten fuera de las instituciones autorizadas.",
          "The data in this form are confidential. They are used only to manage social "
          "protection in the Integrated Social Information System (SIIS, Decree 4509/2015) and "
          "are not shared outside authorised institutions."),
        q("select_one si_no", "consentimiento",
          "¿La persona informante acepta responder la ficha?",
          "Does the respondent agree to answer the questionnaire?",
          hint="Preséntese, explique para qué es la ficha y que sus respuestas son "
               "confidenciales. Entreviste a una persona de 18 años o más que conozca los "
               "datos del hogar.",
          hint_en="Introduce yourself, explain the purpose and that answers are confidential. "
                  "Interview a household member aged 18+ who knows the household's details.",
          required=True),
        q("note", "nota_sin_consentimiento",
          "La persona no aceptó responder. Agradezca, guarde el formulario como finalizado y no "
          "continúe.",
          "The respondent declined. Thank them, save the form as finalised and do not continue.",
          relevant="${consentimiento} = 'no'"),
        q("date", "fecha_entrevista", "Fecha de la entrevista", "Interview date",
          hint="Las edades se calculan a esta fecha.",
          hint_en="Ages are computed at this date.",
          required=True, relevant=SI, constraint=". <= today()",
          msg="La fecha de la entrevista no puede ser posterior a hoy.",
          msg_en="The interview date cannot be in the future."),
    ]
    rows += ubicacion(relevant=SI, direccion=True)
    rows += [
        begin_group("vivienda", "Vivienda y servicios", "Dwelling and services", relevant=SI),
        q("select_one tenencia", "tenencia", "La vivienda que ocupa este hogar es…",
          "The dwelling this household occupies is…", required=True),
        q("select_one paredes", "material_paredes",
          "¿De qué material son principalmente las paredes exteriores?",
          "Main material of the outer walls", required=True),
        q("select_one piso", "material_piso", "¿De qué material es principalmente el piso?",
          "Main material of the floor", required=True),
        q("select_one techo", "material_techo", "¿De qué material es principalmente el techo?",
          "Main material of the roof", required=True),
        q("integer", "cuartos", "¿Cuántas piezas tiene la vivienda?",
          "How many rooms does the dwelling have?",
          hint="Sin contar baño, cocina, pasillos ni garaje.",
          hint_en="Not counting bathroom, kitchen, corridors or garage.",
          required=True, constraint=". >= 1 and . <= 30",
          msg="Debe ser entre 1 y 30 piezas.", msg_en="Must be between 1 and 30 rooms."),
        q("integer", "dormitorios", "¿Cuántas de esas piezas usan para dormir?",
          "How many of those rooms are used for sleeping?",
          required=True, constraint=". >= 0 and . <= ${cuartos}",
          msg="No puede haber más piezas para dormir que piezas en total (${cuartos}).",
          msg_en="Cannot exceed the total number of rooms (${cuartos})."),
        q("select_one agua", "fuente_agua",
          "¿De dónde proviene principalmente el agua que usan para beber y cocinar?",
          "Main source of drinking and cooking water", required=True),
        q("select_one saneamiento", "saneamiento",
          "¿Qué tipo de baño o servicio sanitario tiene la vivienda?",
          "Type of toilet or sanitation facility", required=True),
        q("select_one electricidad", "electricidad", "¿La vivienda tiene energía eléctrica?",
          "Does the dwelling have electricity?", required=True),
        q("select_one si_no", "tarifa_social",
          "¿El hogar tiene la tarifa social de la ANDE?",
          "Does the household have ANDE's social electricity tariff?",
          required=True, relevant="${electricidad} = 'ande'"),
        q("select_one si_no", "internet",
          "¿El hogar tiene acceso a internet (wifi, fibra o datos del celular)?",
          "Does the household have internet access (wifi, fibre or mobile data)?",
          required=True),
        q("select_one combustible", "combustible_cocina",
          "¿Qué usan principalmente para cocinar?", "Main cooking fuel", required=True),
        q("select_one basura", "basura", "¿Qué hacen principalmente con la basura?",
          "What do you mainly do with the rubbish?", required=True),
        end_group("vivienda"),
        q("note", "nota_miembros",
          "A continuación, registre a cada persona que vive habitualmente en esta vivienda y "
          "comparte los gastos de comida, empezando por el jefe o la jefa del hogar.",
          "Now record each person who usually lives in this dwelling and shares food expenses, "
          "starting with the head of household.",
          relevant=SI),
        begin_repeat("miembros", "Integrante del hogar", "Household member", relevant=SI),
    ]
    rows += miembros_identidad("${fecha_entrevista}", ref_is_interview=True)
    rows += [
        q("calculate", "edad", calculation=(
            "if(${fecha_nacimiento} = '' or ${fecha_entrevista} = '', '', "
            + age_at("${fecha_nacimiento}", "${fecha_entrevista}") + ")")),
        q("note", "nota_edad", "Edad a la fecha de la entrevista: ${edad} años.",
          "Age at interview date: ${edad} years.", relevant="${edad} != ''"),
    ]
    rows += sexo_relacion()
    rows += [
        q("select_one si_no", "embarazada", "¿${nombres} está embarazada?",
          "Is ${nombres} pregnant?", required=True,
          relevant="${sexo} = 'mujer' and ${edad} >= 10 and ${edad} <= 55"),
        q("integer", "controles_prenatales",
          "¿Cuántos controles prenatales tuvo hasta ahora en este embarazo?",
          "How many prenatal check-ups so far in this pregnancy?",
          hint="Si no tuvo ninguno, anote 0.", hint_en="Enter 0 if none.",
          required=True, relevant="${embarazada} = 'si'", constraint=". >= 0 and . <= 20",
          msg="Debe ser un número entre 0 y 20.", msg_en="Must be between 0 and 20."),
        q("note", "nota_wg",
          "Las siguientes preguntas son sobre dificultades que ${nombres} puede tener para "
          "realizar ciertas actividades debido a un PROBLEMA DE SALUD.",
          "The next questions ask about difficulties ${nombres} may have doing certain "
          "activities because of a HEALTH PROBLEM."),
        wg("wg_ver", "¿Tiene dificultad para ver, incluso si usa anteojos?",
           "Do you have difficulty seeing, even if wearing glasses?"),
        wg("wg_oir", "¿Tiene dificultad para oír, incluso si usa audífono(s)?",
           "Do you have difficulty hearing, even if using a hearing aid?"),
        wg("wg_caminar", "¿Tiene dificultad para caminar o subir escalones?",
           "Do you have difficulty walking or climbing steps?"),
        wg("wg_recordar", "¿Tiene dificultad para recordar o concentrarse?",
           "Do you have difficulty remembering or concentrating?"),
        wg("wg_cuidado",
           "¿Tiene dificultad con su cuidado personal, como lavarse todo el cuerpo o vestirse?",
           "Do you have difficulty with self-care, such as washing all over or dressing?"),
        wg("wg_comunicar",
           "Usando su lenguaje habitual, ¿tiene dificultad para comunicarse, por ejemplo, para "
           "entender lo que otros dicen o para que otros le entiendan?",
           "Using your usual language, do you have difficulty communicating, for example "
           "understanding or being understood?"),
        q("select_one si_no", "indigena", "¿${nombres} se considera indígena?",
          "Does ${nombres} consider themself indigenous?", required=True),
        q("select_one pueblo", "pueblo_indigena", "¿A qué pueblo indígena pertenece?",
          "Which indigenous people do they belong to?",
          required=True, relevant="${indigena} = 'si'", appearance="minimal"),
        q("select_multiple idioma", "idiomas", "¿Qué idiomas habla?",
          "Which languages do they speak?",
          hint="Marque todos los que correspondan.", hint_en="Select all that apply.",
          required=True),
        q("select_one si_no", "asiste_escuela",
          "¿Asiste actualmente a alguna institución educativa (escuela, colegio, instituto o "
          "universidad)?",
          "Does ${nombres} currently attend school, college or university?",
          required=True, relevant="${edad} >= 3"),
        q("select_one nivel", "nivel_educativo",
          "¿Cuál es el nivel educativo más alto que aprobó?",
          "Highest level of education completed",
          hint="Para niños que todavía no estudian, marque «Ninguno».",
          hint_en="For children not yet in school, select 'None'.",
          required=True),
        q("integer", "anios_estudio", "¿Cuántos años de estudio aprobó en total?",
          "How many years of schooling has ${nombres} completed in total?",
          hint="Cuente desde el 1.er grado: 6.º grado = 6, 9.º grado = 9, bachillerato "
               "completo = 12; la educación inicial no cuenta.",
          hint_en="Count from grade 1: grade 6 = 6, grade 9 = 9, completed secondary = 12; "
                  "pre-school does not count.",
          required=True, relevant="${edad} >= 5",
          constraint=". >= 0 and . <= 25 and . <= ${edad}",
          msg="Entre 0 y 25 años, y no más que la edad.",
          msg_en="Between 0 and 25 years, and not more than the age."),
        q("select_one si_no", "alfabetizado", "¿Sabe leer y escribir?",
          "Can ${nombres} read and write?", required=True, relevant="${edad} >= 6"),
        q("select_one seguro", "seguro_salud", "¿Qué seguro médico tiene?",
          "What health insurance does ${nombres} have?",
          hint="Si tiene más de uno, marque el principal.",
          hint_en="If more than one, select the main one.", required=True),
        q("select_one si_no", "enfermo_accidentado",
          "En los últimos 90 días, ¿estuvo enfermo o accidentado?",
          "In the last 90 days, was ${nombres} ill or injured?", required=True),
        q("select_one si_no", "consulto_profesional",
          "¿Consultó a un médico u otro profesional de la salud por esa enfermedad o accidente?",
          "Did ${nombres} consult a doctor or other health professional about it?",
          hint="Farmacia, curandero o automedicación no cuentan como consulta profesional.",
          hint_en="A pharmacy, a traditional healer or self-medication does not count.",
          required=True, relevant="${enfermo_accidentado} = 'si'"),
        q("select_one si_no_ns", "carnet_vacunacion",
          "¿Tiene la libreta (carnet) de vacunación al día?",
          "Is the vaccination card up to date?",
          hint="Pida ver la libreta si es posible.", hint_en="Ask to see the card if possible.",
          required=True, relevant="${edad} < 18"),
        q("select_one si_no_ns", "inscripcion_nacimiento",
          "¿El nacimiento de ${nombres} está inscripto en el Registro Civil?",
          "Is ${nombres}'s birth registered with the Civil Registry?",
          hint="Es decir, si tiene acta o certificado de nacimiento.",
          hint_en="That is, whether there is a birth certificate.", required=True),
        q("select_one si_no", "tiene_cedula", "¿Tiene cédula de identidad?",
          "Does ${nombres} have an identity card?", required=True,
          constraint="not(${cedula} != '' and . = 'no')",
          msg="Se anotó un número de cédula; verifique la respuesta.",
          msg_en="An ID number was recorded; check the answer."),
        q("select_one si_no", "trabaja",
          "En los últimos 7 días, ¿trabajó al menos una hora (por un pago, en su propio "
          "negocio o chacra, o ayudando a un familiar)?",
          "In the last 7 days, did ${nombres} work at least one hour (for pay, in own business "
          "or farm, or helping a relative)?",
          required=True, relevant="${edad} >= 10"),
        q("select_one empleo", "tipo_empleo", "En su trabajo principal, ¿es…?",
          "In the main job, is ${nombres}…?", required=True, relevant="${trabaja} = 'si'"),
        q("select_one si_no", "aporta_jubilacion",
          "En ese trabajo, ¿aporta a alguna caja de jubilación (IPS u otra)?",
          "In that job, does ${nombres} contribute to a pension fund (IPS or other)?",
          required=True, relevant="${trabaja} = 'si'"),
        q("integer", "horas_trabajo",
          "La semana pasada, ¿cuántas horas trabajó en total, sumando todos sus trabajos?",
          "Last week, how many hours did ${nombres} work in total, in all jobs?",
          required=True, relevant="${trabaja} = 'si'",
          constraint=". >= 1 and . <= 140", msg="Entre 1 y 140 horas.",
          msg_en="Between 1 and 140 hours."),
        q("select_one si_no", "desea_mas_horas",
          "¿Quisiera trabajar más horas y podría hacerlo?",
          "Would ${nombres} like to work more hours and be available to do so?",
          required=True, relevant="${trabaja} = 'si'"),
        q("select_one si_no", "busca_trabajo",
          "En las últimas 4 semanas, ¿buscó trabajo o trató de empezar un negocio?",
          "In the last 4 weeks, did ${nombres} look for work or try to start a business?",
          required=True, relevant="${trabaja} = 'no'"),
        q("select_one pension", "recibe_pension", "¿Recibe alguna jubilación o pensión?",
          "Does ${nombres} receive a retirement or other pension?", required=True),
        q("integer", "ingreso_mensual",
          "En total, ¿cuánto gana o recibe por mes, en guaraníes?",
          "In total, how much does ${nombres} earn or receive per month, in guaraníes?",
          hint="Sume trabajo, jubilaciones y pensiones. Sin puntos. Déjelo vacío si no sabe o "
               "no quiere responder.",
          hint_en="Add up work, pensions and other income. No dots. Leave empty if unknown or "
                  "refused.",
          constraint=". >= 0", msg="El ingreso no puede ser negativo.",
          msg_en="Income cannot be negative."),
        q("select_multiple programa", "programas",
          "¿Recibe alguno de estos programas sociales?",
          "Does ${nombres} receive any of these social programmes?",
          hint="Marque todos los que correspondan.", hint_en="Select all that apply.",
          required=True,
          constraint="not(selected(., 'ninguno') and count-selected(.) > 1)",
          msg="«Ninguno» no puede marcarse junto con otros programas.",
          msg_en="'None' cannot be combined with other programmes."),
        end_repeat("miembros"),
    ]
    return rows


# --------------------------------------------------------------------------------------------
# Entorno / comunidad
# --------------------------------------------------------------------------------------------

def comunidad_survey():
    rows = metadata() + [
        q("note", "aviso_comunidad",
          "Complete esta ficha con la comunidad reunida (priorización participativa), junto con "
          "los referentes locales y el gobierno municipal.",
          "Fill in this form with the community assembled (participatory prioritisation), "
          "together with local leaders and the municipal government."),
        q("date", "fecha_relevamiento", "Fecha del relevamiento", "Survey date",
          required=True, constraint=". <= today()",
          msg="La fecha no puede ser posterior a hoy.", msg_en="The date cannot be in the future."),
    ]
    rows += ubicacion(direccion=False)
    rows += [
        begin_group("servicios", "Servicios en la comunidad", "Community services"),
        q("select_one distancia", "puesto_salud",
          "¿A qué distancia está el puesto de salud o la USF más cercana?",
          "Distance to the nearest health post or family health unit (USF)", required=True),
        q("select_one distancia", "escuela", "¿A qué distancia está la escuela más cercana?",
          "Distance to the nearest school", required=True),
        q("select_one si_no", "agua_comunitaria",
          "¿La comunidad tiene un sistema de agua comunitario (junta de saneamiento o SENASA)?",
          "Does the community have a community water system (sanitation board or SENASA)?",
          required=True),
        q("select_one si_no", "camino_todo_tiempo",
          "¿Se llega a la comunidad por un camino de todo tiempo (transitable aunque llueva)?",
          "Is the community reached by an all-weather road?", required=True),
        q("select_one si_no", "punto_conectividad",
          "¿Hay en la comunidad un punto público de acceso a internet (wifi libre)?",
          "Is there a public internet access point (free wifi) in the community?",
          required=True),
        end_group("servicios"),
        begin_group("prioridades", "Prioridades de la comunidad", "Community priorities"),
        q("select_one prioridad", "prioridad_1",
          "En la priorización con la comunidad, ¿cuál fue la necesidad más importante?",
          "In the participatory ranking, what was the most important need?", required=True),
        q("select_one prioridad", "prioridad_2", "¿Y la segunda?", "And the second?",
          required=True, constraint=". != ${prioridad_1} or . = 'otra'",
          msg="Ya eligió esa necesidad como prioridad 1.",
          msg_en="That need was already chosen as priority 1."),
        q("select_one prioridad", "prioridad_3", "¿Y la tercera?", "And the third?",
          required=True,
          constraint="(. != ${prioridad_1} and . != ${prioridad_2}) or . = 'otra'",
          msg="Ya eligió esa necesidad como prioridad 1 o 2.",
          msg_en="That need was already chosen as priority 1 or 2."),
        q("integer", "participantes", "¿Cuántas personas participaron en la priorización?",
          "How many people took part in the ranking?",
          required=True, constraint=". >= 1 and . <= 10000",
          msg="Debe ser un número entre 1 y 10 000.", msg_en="Must be between 1 and 10,000."),
        end_group("prioridades"),
    ]
    return rows


# --------------------------------------------------------------------------------------------
# Registro simplificado (§3.6 step 1C; usable for online self-registration)
# --------------------------------------------------------------------------------------------

def registro_simplificado_survey():
    rows = metadata() + [
        q("note", "aviso_confidencialidad",
          "Este registro sirve para que el hogar sea visitado después para completar la Ficha "
          "Integrada de Protección Social. Los datos son confidenciales (SIIS, Decreto N.º "
          "4509/2015).",
          "This registration lets the household be visited later to complete the integrated "
          "social protection questionnaire (FIPS). Data are confidential (SIIS, Decree "
          "4509/2015)."),
    ]
    rows += ubicacion(direccion=True)
    rows += [
        begin_group("contacto", "Contacto", "Contact"),
        q("text", "telefono", "Teléfono o celular de contacto", "Contact phone number",
          hint="Opcional. Solo números, por ejemplo 0981123456.",
          hint_en="Optional. Digits only, e.g. 0981123456.",
          constraint="regex(., '^[+]?[0-9]{6,15}$')",
          msg="Escriba solo números (entre 6 y 15 dígitos), sin espacios ni guiones.",
          msg_en="Digits only (6 to 15), no spaces or dashes.",
          appearance="numbers"),
        end_group("contacto"),
        q("note", "nota_miembros",
          "Registre a cada persona que vive habitualmente en la vivienda y comparte los gastos "
          "de comida, empezando por el jefe o la jefa del hogar.",
          "Record each person who usually lives in the dwelling and shares food expenses, "
          "starting with the head of household."),
        begin_repeat("miembros", "Integrante del hogar", "Household member"),
    ]
    rows += miembros_identidad("today()", ref_is_interview=False)
    rows += sexo_relacion()
    rows += [end_repeat("miembros")]
    return rows


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

def used_lists(rows):
    out = []
    for r in rows:
        parts = r["type"].split()
        if parts and parts[0] in ("select_one", "select_multiple") and parts[1] not in out:
            out.append(parts[1])
    return out


def write_xlsx(path, survey, lists, settings):
    wb = Workbook()
    bold = Font(bold=True)

    ws = wb.active
    ws.title = "survey"
    ws.append([h for h, _ in SURVEY_COLUMNS])
    for r in survey:
        ws.append([r[k] if r[k] != "" else None for _, k in SURVEY_COLUMNS])

    extra = []
    for items in lists.values():
        for it in items:
            if len(it) > 3:
                extra += [k for k in it[3] if k not in extra]
    wc = wb.create_sheet("choices")
    wc.append(["list_name", "name", "label::" + ES, "label::" + EN] + extra)
    for list_name, items in lists.items():
        for it in items:
            ex = it[3] if len(it) > 3 else {}
            wc.append([list_name, it[0], it[1], it[2]] + [ex.get(k) for k in extra])
    # Codes such as "0101" are text: make that explicit for anyone editing in a spreadsheet.
    for row in wc.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                cell.number_format = "@"

    wst = wb.create_sheet("settings")
    wst.append(list(settings))
    wst.append(list(settings.values()))
    for cell in wst[2]:
        cell.number_format = "@"

    for sheet in (ws, wc, wst):
        for cell in sheet[1]:
            cell.font = bold
        sheet.freeze_panes = "A2"

    wb.properties.creator = "Vamos forms/build_forms.py"
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(pin_zip(buf.getvalue()))


def pin_zip(data):
    """Rewrite the xlsx zip with fixed timestamps so rebuilds are byte-identical."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = body.decode("utf-8")
                text = re.sub(r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)",
                              lambda m: m.group(1) + FIXED_TIMESTAMP + m.group(3), text)
                body = text.encode("utf-8")
            zi = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, body)
    return out.getvalue()


def check_names(rows, form_id):
    """Guard the contract rules that do not depend on pyxform: no '-' or '/' in names."""
    for r in rows:
        if r["name"] and not re.fullmatch(r"[a-z][a-z0-9_]*", r["name"]):
            sys.exit(f"{form_id}: bad field name {r['name']!r}")


def main():
    ap = argparse.ArgumentParser(description="Write the Vamos XLSForms (fips, comunidad, registro_simplificado).")
    ap.add_argument("--distritos", help="path to distritos_cnpv2022.csv")
    ap.add_argument("--out", default=str(HERE), help="output folder (default: forms/)")
    args = ap.parse_args()

    csv_path = find_distritos(args.distritos)
    dep_choices, dist_choices = load_territory(csv_path)
    all_lists = dict(CHOICES, departamento=dep_choices, distrito=dist_choices)

    forms = [
        ("fips", "Ficha Integrada de Protección Social (FIPS)", fips_survey()),
        ("comunidad", "Ficha de Entorno (comunidad)", comunidad_survey()),
        ("registro_simplificado", "Registro simplificado de hogares",
         registro_simplificado_survey()),
    ]
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for form_id, title, survey in forms:
        check_names(survey, form_id)
        lists = {name: all_lists[name] for name in used_lists(survey)}
        settings = {"form_title": title, "form_id": form_id, "version": VERSION,
                    "default_language": ES}
        path = out_dir / f"{form_id}.xlsx"
        write_xlsx(path, survey, lists, settings)
        print(f"wrote {path} ({len(survey)} survey rows, "
              f"{sum(len(v) for v in lists.values())} choices)")
    print(f"territory from {csv_path}")


if __name__ == "__main__":
    main()

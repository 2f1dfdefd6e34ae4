// Browser tests of the Vamos web application, walked as a newcomer would: headless Debian
// chromium driven by playwright-core against a real `vamos serve` (BASE), screenshots of every
// step kept in SHOTS, axe-core run on every page visited (any serious or critical violation
// fails), and any request that leaves the machine fails the run.
//
//   BASE=http://127.0.0.1:8080 SHOTS=/tmp/shots USER_NAME=analista PASSWORD=... node walk.mjs
import { chromium } from "playwright-core";
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const BASE = process.env.BASE;
const SHOTS = process.env.SHOTS || "screenshots";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
mkdirSync(SHOTS, { recursive: true });

const failures = [];
const fail = (m) => { failures.push(m); console.error("FALLA: " + m); };
const expect = (cond, m) => { if (!cond) fail(m); };

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
const context = await browser.newContext({ locale: "es-PY", viewport: { width: 1280, height: 900 } });
const foreign = [];
await context.route("**/*", (route) => {
  const u = new URL(route.request().url());
  if (u.hostname === "127.0.0.1" || u.hostname === "localhost" || u.protocol === "data:") {
    return route.continue();
  }
  foreign.push(route.request().url());
  return route.abort();
});
const page = await context.newPage();
const consoleErrors = [];
page.on("console", (m) => {
  // A refused login answers 401 with the form again: Chromium logs that status, as expected.
  const refusedLogin = page.url().includes("/ingresar") && m.text().includes("status of 401");
  // So does a refused step of a case (closing an unverified plan): 409 with the case again.
  const refusedStep = page.url().includes("/casos/") && m.text().includes("status of 409");
  if (m.type() === "error" && !refusedLogin && !refusedStep) consoleErrors.push(`${page.url()}: ${m.text()}`);
});

let step = 0;
async function check(name) {
  step += 1;
  const file = `${SHOTS}/${String(step).padStart(2, "0")}-${name}.png`;
  await page.screenshot({ path: file, fullPage: true });
  // Evaluated through the DevTools protocol: the page's CSP (no inline scripts) stays on.
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
  });
  const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of bad) fail(`${name} (${page.url()}): axe ${v.impact} ${v.id} — ${v.help} (${v.nodes} nodos)`);
  const lang = await page.getAttribute("html", "lang");
  expect(lang && lang.length >= 2, `${name}: <html lang> ausente`);
  console.log(`ok ${step} ${name} — ${file} — axe: ${result.length} avisos, ${bad.length} graves`);
}

// Signs in through the login form as `user` (every account of the walk has the same password).
async function signIn(user) {
  await page.goto(`${BASE}/ingresar`);
  await page.getByLabel("Usuario").fill(user);
  await page.getByLabel("Contraseña").fill(process.env.PASSWORD);
  await page.getByRole("button", { name: "Ingresar" }).click();
  await page.waitForURL(`${BASE}/`);
}

// 1. An analyst signs in, imports the FIPS survey, classifies, and follows the dashboard from
// the nation down to a household of Villeta.
await signIn(process.env.USER_NAME);
await page.getByRole("navigation", { name: "Secciones" }).getByRole("link", { name: "Importaciones" }).click();
await page.waitForURL(/importaciones/);
await check("importaciones");
await page.getByLabel("Tipo de archivo").selectOption("fips");
await page.getByLabel("Archivos").setInputFiles(["fips.csv", "fips-miembros.csv", "manifest.json"].map((f) => `${process.env.DATA}/${f}`));
await page.getByRole("button", { name: "Importar", exact: true }).click();
await page.waitForURL(/importaciones\/trabajos\/\d+/);
await page.getByText("completada").first().waitFor({ timeout: 60000 });
await check("importacion-completada");
await page.goto(`${BASE}/importaciones`);
await page.getByRole("button", { name: "Clasificar" }).click();
await page.waitForURL(/importaciones\/trabajos\/\d+/);
await page.getByText(/guardada/).waitFor({ timeout: 60000 });
await check("clasificacion");
await page.getByRole("link", { name: "Ver el tablero de Logros" }).click();
await page.waitForURL(/\/logros/);
await check("logros-nacion-analista");
// The analyst publishes the measurement: public figures come only from a publication.
await page.getByRole("button", { name: /Publicar la medición/ }).click();
await page.waitForURL(/\/logros\?t=\w+&m=\d+/);
expect(await page.getByText(/publicada el \d\d\/\d\d\/\d{4} \d\d:\d\d por/).first().isVisible(), "la medición no quedó publicada (o la fecha no está como se escribe)");
await check("logros-publicada");
// … looks at the multidimensional poverty of the same measurement, from the home page's tasks,
// and follows the map to a department …
await page.goto(`${BASE}/`);
await page.getByRole("link", { name: /Pobreza multidimensional/ }).click();
await page.waitForURL(/\/ipm/);
await page.getByRole("img", { name: /Contribución de cada indicador/ }).waitFor();
await check("ipm-nacion");
await page.getByRole("link", { name: /^Central:/ }).click();
await page.waitForURL(/\/ipm\?t=11/);
expect(await page.getByRole("heading", { name: /Pobreza multidimensional — Central/ }).isVisible(), "el mapa del IPM no lleva al departamento");
await check("ipm-central");
await page.goto(`${BASE}/logros`);
await page.getByRole("table").last().getByRole("link", { name: "Central" }).click();
await page.waitForURL(/t=11/);
await page.getByRole("link", { name: "Villeta" }).first().click();
await page.waitForURL(/t=1116/);
await page.getByRole("link", { name: /Ver las personas y hogares de Villeta/ }).click();
await page.getByRole("link", { name: /^Hogar \d+$/ }).first().click();
await page.waitForURL(/registro\/hogares\/\d+/);
expect((await page.locator("span.st").count()) > 0, "hogar sin estatus por servicio");
await check("hogar-desde-el-tablero");
// The UTGS sends the referral lists (through the API, with the session's CSRF token).
const csrf = await page.locator("input[name=csrf]").first().getAttribute("value");
const generated = await page.request.post(`${BASE}/api/referrals/generate`, { headers: { "x-csrf-token": csrf }, data: {} });
expect(generated.ok(), `generar referencias: ${generated.status()}`);
await page.getByRole("button", { name: "Salir" }).click();
await page.waitForURL(`${BASE}/`);

// 2. A citizen: the public home page, in Spanish.
await page.goto(`${BASE}/`);
expect((await page.getAttribute("html", "lang")).startsWith("es"), "la portada no está en español");
expect(await page.getByRole("heading", { level: 1 }).isVisible(), "portada sin título");
await check("portada-publica");

// 3. Public Logros: nation → Central → Villeta, by clicking as a reader would.
await page.getByRole("link", { name: /Ver los Logros/ }).click();
await page.waitForURL(/\/logros/);
expect(await page.getByText("sintético").first().isVisible(), "cifras sintéticas sin rótulo");
await check("logros-nacion-publico");
await page.getByRole("table").last().getByRole("link", { name: "Central" }).click();
await page.waitForURL(/t=11/);
await check("logros-central-publico");
await page.getByRole("link", { name: "Villeta" }).first().click();
await page.waitForURL(/t=1116/);
expect((await page.getByRole("heading", { level: 1 }).innerText()).includes("Villeta"), "Villeta sin título");
await check("logros-villeta-publico");
// Choose Logro 4 from its card: the map and the services follow.
await page.getByRole("link", { name: /Logro 4/ }).click();
await page.waitForURL(/logro=4/);
expect(await page.getByRole("heading", { name: /Servicios del Logro 4/ }).isVisible(), "servicios del Logro 4");
await check("logros-villeta-logro4");

// 4. A citizen asks Orientaciones SPS for a pregnant woman in Mariscal Estigarribia.
await page.getByRole("navigation", { name: "Secciones" }).getByRole("link", { name: "Orientaciones" }).click();
await page.waitForURL(/orientaciones/);
await check("orientaciones-formulario");
await page.getByLabel("Distrito donde vive").selectOption("1602");
await page.getByLabel("Edad (años cumplidos)").fill("24");
await page.getByLabel("Mujer", { exact: true }).check();
await page.getByLabel("Está embarazada").check();
await page.getByRole("button", { name: /Ver los servicios/ }).click();
await page.waitForURL(/embarazada=si/);
const result = await page.getByRole("heading", { level: 2, name: /servicios para una persona de/ }).innerText();
expect(result.includes("Estigarribia"), `orientaciones: resultado sin el distrito (${result})`);
expect(await page.getByRole("heading", { level: 3, name: "0–4 antes del nacimiento" }).isVisible(), "orientaciones: falta la etapa prenatal");
expect((await page.getByText(/prenatal/i).count()) > 0, "orientaciones: falta el control prenatal");
await check("orientaciones-embarazada-mariscal");

// 4b. … and self-registers her household (it waits for the UTGS's review).
await page.goto(`${BASE}/`);
await page.getByRole("link", { name: /Registrar a su hogar/ }).click();
await page.waitForURL(/autorregistro/);
await page.getByLabel("Distrito donde vive").selectOption("1602");
await page.getByLabel("Urbana").check();
await page.getByLabel("Barrio, compañía o localidad").fill("Barrio Centro");
const person1 = page.getByRole("group", { name: "Persona 1" });
await person1.getByLabel("Nombres").fill("Librada");
await person1.getByLabel("Apellidos").fill("Autorregistro Navegador");
await person1.getByLabel("Fecha de nacimiento").fill("2002-04-09");
await person1.getByLabel("Sexo").selectOption("mujer");
const person2 = page.getByRole("group", { name: "Persona 2" });
await person2.getByLabel("Nombres").fill("Nahuel");
await person2.getByLabel("Apellidos").fill("Autorregistro Navegador");
await person2.getByLabel("Fecha de nacimiento").fill("2024-01-20");
await person2.getByLabel("Sexo").selectOption("hombre");
await person2.getByLabel("Relación con el jefe o la jefa").selectOption("hijo");
await check("autorregistro-formulario");
await page.waitForTimeout(3200); // the form's time token: people take longer than 3 s
await page.getByRole("button", { name: "Enviar la solicitud" }).click();
await page.getByRole("heading", { name: "Recibimos su solicitud" }).waitFor();
await check("autorregistro-recibido");

// 5. The catalogue, and the same page in English.
await page.getByRole("navigation", { name: "Secciones" }).getByRole("link", { name: "Catálogo" }).click();
await page.waitForURL(/catalogo/);
await check("catalogo");
await page.getByRole("link", { name: "English" }).click();
await page.waitForURL(/lang=en/);
expect((await page.getAttribute("html", "lang")) === "en", "el cambio de idioma no cambió <html lang>");
expect(await page.getByRole("heading", { name: "Service catalogue" }).isVisible(), "catálogo en inglés");
await check("catalogue-en");
await page.getByRole("link", { name: "Español" }).click();
await page.waitForURL(/lang=es/);

// 6. An analyst signs in, from the dashboard's invitation, and sees the full figures.
await page.goto(`${BASE}/logros?t=1116`);
await page.getByRole("link", { name: /Ingresar para ver las cifras completas/ }).click();
await page.waitForURL(/ingresar/);
await check("ingresar");
await page.getByLabel("Usuario").fill(process.env.USER_NAME);
await page.getByLabel("Contraseña").fill("clave-equivocada");
await page.getByRole("button", { name: "Ingresar" }).click();
expect(await page.getByRole("alert").isVisible(), "sin aviso de contraseña incorrecta");
await check("ingresar-error");
await page.getByLabel("Contraseña").fill(process.env.PASSWORD);
await page.getByRole("button", { name: "Ingresar" }).click();
await page.waitForURL(/\/logros\?t=1116/);
expect((await page.getByText(/Cifras públicas: las celdas/).count()) === 0, "el analista ve cifras públicas");
expect(await page.getByText(/protegidos de/).first().isVisible(), "el analista no ve los conteos");
await check("logros-villeta-analista");
// … looks at her account page (changing the password) …
await page.goto(`${BASE}/cuenta`);
expect(await page.getByRole("heading", { name: /Mi cuenta/ }).isVisible(), "sin la página de la cuenta");
await check("cuenta");
await page.goto(`${BASE}/logros?t=1116`);
// … and opens a household of Villeta from the dashboard.
await page.getByRole("link", { name: /Ver las personas y hogares de Villeta/ }).click();
await page.waitForURL(/registro\?territorio=1116/);
await check("registro-villeta");
await page.getByRole("link", { name: /^Hogar \d+$/ }).first().click();
await page.waitForURL(/registro\/hogares\/\d+/);
expect(await page.getByRole("heading", { level: 2, name: /Miembros/ }).isVisible(), "hogar sin miembros");
expect((await page.locator("span.st").count()) > 0, "hogar sin estatus por servicio");
await check("hogar-analista");
// … reads its history and asks for a change of address (another account approves it).
const householdUrl = page.url();
const householdId = householdUrl.match(/hogares\/(\d+)/)[1];
await page.getByRole("link", { name: /Ver el historial del hogar/ }).click();
await page.waitForURL(/historial$/);
expect(await page.getByRole("table").first().isVisible(), "historial sin tabla de versiones");
await check("hogar-historial");
await page.getByRole("link", { name: "Pedir un cambio en el registro" }).click();
await page.waitForURL(/cambios\/nueva/);
await check("cambio-tipos");
await page.getByRole("link", { name: /Mudar el hogar/ }).click();
await page.getByLabel(/Número de hogar/).fill(householdId);
await page.locator("#valor_address").fill("Calle del Navegador 12");
await page.locator("#ef-d").check();
await page.locator("#desde").fill("2026-11-20");
await page.getByLabel("Motivo").fill("se mudaron dentro de la compañía");
await check("cambio-formulario");
await page.getByRole("button", { name: "Enviar la solicitud" }).click();
await page.waitForURL(/cambios\/\d+$/);
expect(await page.getByText("Calle del Navegador 12").first().isVisible(), "la vista previa no muestra el valor nuevo");
await check("cambio-detalle");
await page.goto(householdUrl);
await page.getByRole("link", { name: "Inicio" }).click();
expect(await page.getByRole("heading", { name: /Hola/ }).isVisible(), "inicio del rol");
await check("inicio-analista");
// The analyst reviews the self-registration and approves it into the registry.
await page.getByRole("link", { name: /Revisar los autorregistros/ }).click();
await page.waitForURL(/autorregistro\/revision/);
await check("autorregistro-revision");
const request = page.locator("section.member").filter({ hasText: "Librada" });
await request.getByRole("button", { name: /Aprobar/ }).click();
await page.waitForURL(/hecho=self-done-approved/);
expect(await page.getByRole("status").innerText().then((t) => t.includes("incorporado al registro")), "autorregistro no aprobado");
await page.goto(`${BASE}/registro?nombre=Navegador`);
expect((await page.getByRole("link", { name: /^Hogar \d+$/ }).count()) === 2, "el hogar autorregistrado (2 personas) no está en el registro");
await check("autorregistro-en-el-registro");
await page.getByRole("button", { name: "Salir" }).click();
await page.waitForURL(`${BASE}/`);
expect(await page.getByRole("link", { name: "Ingresar", exact: true }).isVisible(), "la sesión no terminó");

// 7. An MSPBS operator of Villeta works the inbox, records a service and sees the dashboard move.
await signIn(process.env.OPERATOR);
await page.getByRole("navigation", { name: "Secciones" }).getByRole("link", { name: "Bandeja" }).click();
await page.waitForURL(/bandeja/);
await check("bandeja-mspbs");
await page.getByRole("button", { name: /Acusar recibo/ }).click();
await page.waitForURL(/hecho=inbox-done-acknowledged/);
expect(await page.getByRole("status").isVisible(), "sin confirmación del acuse de recibo");
const serve = page.locator("li.referral").filter({ has: page.getByText("Registrar la atención") }).first();
const service = await serve.locator("input[name=servicio]").getAttribute("value");
const catalogue = await (await page.request.get(`${BASE}/api/catalogue`)).json();
const logro = catalogue.services.find((s) => s.code === service).logro;
const protectedCount = async () => {
  await page.goto(`${BASE}/logros?t=1116&logro=${logro}`);
  const row = page.locator("section[aria-labelledby=servicios]").locator("tr").filter({ hasText: `(${service})` });
  return Number((await row.locator("td").nth(2).innerText()).replace(/\D/g, ""));
};
const before = await protectedCount();
await page.goto(`${BASE}/bandeja`);
const item = page.locator("li.referral").filter({ has: page.locator(`input[name=servicio][value="${service}"]`) }).first();
await item.getByText("Registrar la atención").click();
await item.getByLabel("Lugar (establecimiento)").fill("USF Villeta");
await check("bandeja-registrar-atencion");
await item.getByRole("button", { name: "Registrar atención" }).click();
await page.waitForURL(/hecho=inbox-done-served/);
expect(await page.getByRole("status").innerText().then((t) => t.includes("atención quedó registrada")), "sin confirmación de la atención");
let after = before;
for (let i = 0; i < 20 && after === before; i += 1) {
  await page.waitForTimeout(500);
  after = await protectedCount();
}
expect(after === before + 1, `el tablero no se movió: protegidos ${before} → ${after} (${service}, Logro ${logro})`);
await check("logros-villeta-tras-atencion");
console.log(`tablero: ${service} protegidos ${before} → ${after}`);

// 7b. The Villeta Mesa opens a Canal Verde case from its candidates, records a visit, and is
// told why the case cannot be closed yet (its plan is not verified).
await page.getByRole("button", { name: "Salir" }).click();
await page.waitForURL(`${BASE}/`);
await signIn(process.env.MESA);
await page.getByRole("navigation", { name: "Secciones" }).getByRole("link", { name: "Casos" }).click();
await page.waitForURL(/\/casos/);
expect(await page.getByRole("heading", { name: "Candidatas" }).isVisible(), "sin candidatas en el banco de trabajo");
await check("casos-candidatas");
// A person with an open MSPBS referral, so that the MSPBS operator has a part in the plan.
const mspbsOpen = await (await page.request.get(`${BASE}/api/referrals?territory=1116&institution=MSPBS&limit=500`)).json();
const withMspbs = new Set(mspbsOpen.items.filter((r) => r.unit_kind === "persona" && ["emitida", "recibida", "contactada"].includes(r.status)).map((r) => r.unit_id));
const listed = await (await page.request.get(`${BASE}/api/cases/candidates?territory=1116&limit=200`)).json();
const chosen = listed.items.find((c) => c.unit_kind === "persona" && c.open_case === null && withMspbs.has(c.unit_id));
expect(chosen, "ninguna candidata con una referencia abierta del MSPBS");
await page.getByRole("button", { name: `Abrir caso — unidad ${chosen.unit_id}`, exact: true }).click();
await page.waitForURL(/\/casos\/\d+\?hecho=case-done-abrir/);
const caseId = page.url().match(/casos\/(\d+)/)[1];
expect(await page.getByRole("heading", { name: "Plan" }).isVisible(), "el caso no muestra su plan");
expect((await page.locator("table tbody tr").count()) > 0, "plan vacío");
await check("caso-abierto");
await page.getByLabel("Tipo").selectOption("visita");
await page.getByRole("group", { name: "Anotar" }).getByLabel("Texto").fill("Visitamos el hogar; la familia acepta el acompañamiento.");
await page.getByRole("button", { name: "Anotar" }).click();
await page.waitForURL(/hecho=case-done-anotar/);
expect(await page.getByText("Visitamos el hogar").isVisible(), "la visita no quedó en la historia");
await page.getByRole("button", { name: "Verificar y cerrar" }).click();
expect(await page.getByRole("alert").getByText(/no se puede cerrar como protegido: falta verificar/).isVisible(), "el cierre no verificado no dice qué falta");
expect(await page.getByRole("heading", { name: "Plan" }).isVisible(), "el cierre rechazado deja la página del caso");
await check("caso-cierre-rechazado");
const plan = (await (await page.request.get(`${BASE}/api/cases/${caseId}`)).json()).tasks.filter((t) => t.kind === "servicio");
await page.goto(`${BASE}/`);
await page.getByRole("button", { name: "Salir" }).click();
await page.waitForURL(`${BASE}/`);

// 7c. The other institutions report their services (the UTGS administrator sends their
// counter-referrals through the API), and the MSPBS operator records hers in the inbox.
await signIn("admin");
const adminCsrf = await page.locator("input[name=csrf]").first().getAttribute("value");
const today = new Date().toISOString().slice(0, 10);
const others = plan.filter((t) => t.institution !== "MSPBS").map((t) => ({
  event_id: `walk-${caseId}-${t.id}`, institution: t.institution, person_id: t.unit_id, service: t.service, delivered_on: today,
}));
if (others.length > 0) {
  const sent = await page.request.post(`${BASE}/api/counter-referrals/batch`, { headers: { "x-csrf-token": adminCsrf }, data: { events: others } });
  const body = await sent.json();
  expect(sent.ok() && body.accepted + body.duplicates === others.length, `contra-referencias de las otras instituciones: ${sent.status()} ${JSON.stringify(body.errors)}`);
}
await page.getByRole("button", { name: "Salir" }).click();
await page.waitForURL(`${BASE}/`);
await signIn(process.env.OPERATOR);
for (const t of plan.filter((x) => x.institution === "MSPBS")) {
  await page.goto(`${BASE}/bandeja?servicio=${t.service}`);
  const mine = page.locator("li.referral").filter({ has: page.locator(`input[name=persona][value="${t.unit_id}"]`) }).first();
  await mine.getByText("Registrar la atención").click();
  await mine.getByLabel("Lugar (establecimiento)").fill("USF Villeta");
  await mine.getByRole("button", { name: "Registrar atención" }).click();
  await page.waitForURL(/hecho=inbox-done-served/);
}
await page.getByRole("button", { name: "Salir" }).click();
await page.waitForURL(`${BASE}/`);

// 7d. The Mesa is told the plan was answered, opens the case from its notice and closes it:
// the system verifies each service protegido.
await signIn(process.env.MESA);
let notice = page.locator("#avisos").getByRole("link", { name: new RegExp(`Caso ${caseId}: cada servicio del plan fue atendido`) });
for (let i = 0; i < 20 && !(await notice.isVisible()); i += 1) {
  await page.waitForTimeout(500);
  await page.goto(`${BASE}/`);
  notice = page.locator("#avisos").getByRole("link", { name: new RegExp(`Caso ${caseId}: cada servicio del plan fue atendido`) });
}
expect(await notice.isVisible(), "la Mesa no recibió el aviso del plan atendido");
expect(await page.locator("header .notices").isVisible(), "el encabezado no cuenta los avisos");
await check("inicio-mesa-avisos");
await notice.click();
await page.waitForURL(new RegExp(`/casos/${caseId}`));
await page.getByRole("button", { name: "Verificar y cerrar" }).click();
await page.waitForURL(/hecho=case-done-cerrar/);
expect(await page.getByText("Cerrado", { exact: false }).first().isVisible(), "el caso no quedó cerrado");
await check("caso-cerrado-protegido");
console.log(`caso ${caseId}: cerrado como protegido tras ${plan.length} servicios verificados`);
await page.getByRole("button", { name: "Salir" }).click();
await page.waitForURL(`${BASE}/`);

// 7e. An orientadora of Villeta finds a person by cédula, records the orientation she gave, and
// the person's ORIENTACIONES SPS becomes protegido.
await signIn(process.env.ORIENTADOR);
const orientation = (status) => status.categories.flatMap((c) => c.services).find((x) => x.service.startsWith("orientaciones_sps"));
const people = await (await page.request.get(`${BASE}/api/persons?territory=1116&limit=100`)).json();
let guided = null;
for (const p of people.items.filter((x) => x.national_id)) {
  const st = await (await page.request.get(`${BASE}/api/persons/${p.id}/status`)).json();
  if (orientation(st) && orientation(st).status !== "protegido") { guided = p; break; }
}
expect(guided, "ninguna persona de Villeta sin orientación registrada");
await page.getByRole("navigation", { name: "Secciones" }).getByRole("link", { name: "Registro" }).click();
await page.getByLabel("Cédula").fill(String(guided.national_id));
await page.getByRole("button", { name: "Buscar" }).click();
await page.waitForURL(/registro\?/);
await page.locator(`a[href="/registro/personas/${guided.id}"]`).click();
await page.waitForURL(new RegExp(`/registro/personas/${guided.id}`));
await check("persona-ventanilla");
await page.getByLabel("Dónde se la orientó (opcional)").fill("Espacio SPS de Villeta");
await page.getByRole("button", { name: "Registrar la orientación dada hoy" }).click();
await page.waitForURL(/hecho=person-done-oriented/);
expect(await page.getByRole("status").innerText().then((t) => t.includes("Orientación registrada")), "sin confirmación de la orientación");
let oriented = "";
for (let i = 0; i < 20 && oriented !== "protegido"; i += 1) {
  const st = await (await page.request.get(`${BASE}/api/persons/${guided.id}/status`)).json();
  oriented = orientation(st).status;
  if (oriented !== "protegido") await page.waitForTimeout(500);
}
expect(oriented === "protegido", `ORIENTACIONES SPS de la persona ${guided.id}: ${oriented}`);
await page.reload();
const row = page.locator("table.status tr").filter({ hasText: "ORIENTACIONES SPS" }).first();
expect(await row.locator(".st-protegido").isVisible(), "la página de la persona no muestra la orientación como protegida");
await check("persona-orientada");
console.log(`orientación: persona ${guided.id} — ORIENTACIONES SPS ${oriented}`);
await page.getByRole("button", { name: "Salir" }).click();
await page.waitForURL(`${BASE}/`);
await signIn(process.env.MESA);

// 7f. The Mesa acts on the figures: from a Logro card of Villeta to the units behind it; then
// it records a barrier of its territory and designs a facilitator against it.
await page.goto(`${BASE}/logros?t=1116&logro=9`);
await page.getByRole("link", { name: /Ver quiénes están sin protección/ }).click();
await page.waitForURL(/\/logros\/unidades\?/);
expect(await page.getByRole("heading", { name: /unidad(es)? sin protección/ }).isVisible(), "la lista detrás de la cifra no se abrió");
expect((await page.locator("table tbody tr").count()) > 0, "la lista detrás de la cifra está vacía");
await check("unidades-detras-de-la-cifra");
await page.goto(`${BASE}/casos`);
await page.getByRole("link", { name: "Barreras de acceso y facilitadores del territorio" }).click();
await page.waitForURL(/\/barreras/);
await page.locator("#distrito-r").fill("1116");
await page.locator("#barrera-r").selectOption("distancia");
await page.locator("#descripcion-r").fill("El camino a la USF se corta cuando llueve.");
await page.getByRole("button", { name: "Registrar la barrera" }).click();
await page.waitForURL(/hecho=barrier-done-registrar/);
await page.locator("#distrito-f").fill("1116");
await page.locator("#barrera-f").selectOption("distancia");
await page.locator("#nombre-f").fill("Traslado solidario a la USF");
await page.locator("#responsable-f").fill("Municipalidad de Villeta");
await page.locator("#desde-f").fill("2026-12-01");
await page.locator("#hasta-f").fill("2027-02-28");
await page.getByRole("button", { name: "Guardar el facilitador" }).click();
await page.waitForURL(/hecho=barrier-done-facilitador/);
expect(await page.getByRole("heading", { name: /Traslado solidario a la USF/ }).isVisible(), "el facilitador no aparece");
await check("barreras-y-facilitadores");
// …and asks what raising Villeta's Hogares Logro to 90 % in two years would cost.
await page.goto(`${BASE}/costeo`);
await page.getByLabel("Territorio").fill("1116");
await page.getByLabel("Logro", { exact: true }).selectOption("9");
await page.getByLabel("Meta (% de cobertura)").fill("90");
await page.getByLabel("Año").fill(String(new Date().getFullYear() + 2));
await page.getByRole("button", { name: "Costear" }).click();
await page.waitForURL(/\/costeo\?/);
expect(await page.getByText("Costo total").isVisible(), "el costeo no dio un costo total");
await check("costeo-de-una-meta");

// 7b. A planner imports the illustrative strategic framework, costs San Pedro's Logro 4 at 70 %,
// adopts it as the shared target, saves the scenario, imports the illustrative budget and
// compares what is needed with what is allocated, then writes a management agreement that
// adopts the target and follows it.
await page.goto(`${BASE}/`);
await page.getByRole("button", { name: "Salir" }).click();
await page.waitForURL(`${BASE}/`);
await signIn(process.env.PLANNER);
await page.getByRole("navigation", { name: "Secciones" }).getByRole("link", { name: "Planificación" }).click();
await page.waitForURL(/\/planes$/);
await check("planes");
await page.getByLabel("Archivo").setInputFiles(`${process.env.PLANNING}/marco_estrategico_ilustrativo.xlsx`);
await page.getByRole("button", { name: "Importar" }).click();
await page.waitForURL(/\/planes\/\d+\?hecho=importado/);
expect(await page.getByText("Plan importado.").isVisible(), "el plan no se importó");
await check("plan-ilustrativo");
const by = String(new Date().getFullYear() + 2);
await page.goto(`${BASE}/costeo?t=02&logro=4&meta=70&anio=${by}`);
await page.getByRole("button", { name: "Adoptar la meta" }).click();
await page.waitForURL(/\/logros\?t=02&logro=4&hecho=meta/);
expect(await page.getByText("Meta compartida registrada.").isVisible(), "la meta no se adoptó");
await check("logros-san-pedro-con-meta");
await page.goto(`${BASE}/costeo?t=02&logro=4&meta=70&anio=${by}`);
await page.getByRole("button", { name: "Guardar escenario" }).click();
await page.waitForURL(/\/costeo\/escenarios\?hecho=guardado/);
await check("escenarios");
await page.goto(`${BASE}/presupuesto`);
await page.getByLabel("Archivo").setInputFiles(`${process.env.PLANNING}/presupuesto_ilustrativo.csv`);
await page.getByRole("button", { name: "Importar" }).click();
await page.waitForURL(/\/presupuesto\?anio=\d+&hecho=importado/);
await page.getByLabel("Año").selectOption("2027");
await page.getByLabel("Territorio").fill("02");
await page.getByLabel("Necesario según el escenario").selectOption({ index: 1 });
await page.getByRole("button", { name: "Mostrar" }).click();
await page.waitForURL(/\/presupuesto\?anio=2027/);
expect(await page.getByRole("table", { name: "Por servicio" }).isVisible(), "el presupuesto no muestra la tabla por servicio");
await check("presupuesto-san-pedro");
await page.goto(`${BASE}/acuerdos-de-gestion`);
await page.getByLabel("Título").fill("Acuerdo por la niñez de San Pedro");
await page.getByLabel("Territorio").fill("02");
await page.getByLabel("Desde").fill("01/01/2027");
await page.getByLabel("Hasta").fill(`31/12/${by}`);
await page.getByLabel(/MEC · Ministerio de Educación/).check();
await page.getByLabel(/MSPBS · Ministerio de Salud/).check();
await page.getByLabel("Compromisos").fill("operativo; MSPBS; vacunación en las escuelas");
await page.getByLabel(/Logro 4 en .*San Pedro/).check();
await page.getByRole("button", { name: "Crear acuerdo" }).click();
await page.waitForURL(/\/acuerdos-de-gestion\/\d+\?hecho=creado/);
expect(await page.getByText("Borrador (sin firmar)").isVisible(), "el acuerdo no quedó como borrador");
await check("acuerdo-de-gestion");

// 7b. The planner sees Villeta's community priorities (step 1D) beside its Entorno Logro.
await page.getByRole("navigation", { name: "Secciones" }).getByRole("link", { name: "Gobernanza" }).click();
await page.waitForURL(/\/gobernanza$/);
expect(await page.getByRole("link", { name: "Mesa de Protección Social de Villeta" }).isVisible(), "la Mesa de Villeta no figura entre las instancias");
await check("gobernanza");
await page.getByRole("link", { name: "Prioridades comunitarias" }).click();
await page.getByLabel("Distrito").selectOption("1116");
await page.getByRole("button", { name: "Ver", exact: true }).click();
await page.waitForURL(/distrito=1116/);
expect(await page.getByRole("table", { name: /Prioridades comunitarias de Villeta/ }).isVisible(), "las prioridades de Villeta no se muestran");
await check("prioridades-villeta");

// 7c. The territorial coordinator records that Villeta's Mesa was installed, with its act.
await signIn(process.env.COORDINATOR);
await page.goto(`${BASE}/gobernanza/despliegue/1116`);
const mesaStep = page.locator("#proceso-3");
await mesaStep.getByLabel("Estado").selectOption("completado");
await mesaStep.getByLabel("Fin").fill("21/08/2020");
await mesaStep.getByLabel("Coordinador/a territorial").fill("Coordinación territorial de Central");
await mesaStep.getByLabel("Documento de evidencia (título)").fill("Acta de instalación de la Mesa de Protección Social");
await mesaStep.getByRole("button", { name: "Guardar el proceso 3" }).click();
await page.waitForURL(/despliegue\/1116\?hecho=1/);
expect(await page.getByRole("heading", { name: /3\. Instalación de la Mesa de Protección Social — Completado/ }).isVisible(), "el proceso 3 no quedó completado");
await check("despliegue-villeta");
await page.goto(`${BASE}/gobernanza/despliegue`);
expect(await page.getByRole("link", { name: "Villeta" }).isVisible(), "la vista nacional no muestra Villeta");
await check("despliegue-nacional");

// 7d. A member of Villeta's Mesa records a meeting with two agreements.
await signIn(process.env.MESA);
await page.goto(`${BASE}/gobernanza/instancias/MPS-1116`);
await page.getByLabel("Título de la reunión").fill("Sesión ordinaria de noviembre");
await page.getByLabel("Fecha", { exact: true }).fill("05/11/2026");
await page.getByLabel("Lugar").fill("Municipalidad de Villeta");
await page.getByLabel("Temas").fill("Casos de Canal Verde\nFeria de servicios");
await page.locator("#acuerdo1").fill("Visitar a las familias sin cédula del barrio San Roque");
await page.locator("#responsable1").fill("MDS y Registro Civil");
await page.locator("#fecha1").fill("30/11/2026");
await page.locator("#acuerdo2").fill("Organizar la feria de servicios en la plaza");
await page.locator("#responsable2").fill("Municipalidad");
await page.locator("#fecha2").fill("15/12/2026");
await page.getByLabel("Asistencia", { exact: true }).fill("Ana Benítez; MSPBS\nLuis Ortiz; MDS");
await page.getByRole("button", { name: "Registrar la reunión" }).click();
await page.waitForURL(/\/gobernanza\/reuniones\/\d+\?hecho=reunion/);
expect(await page.getByText("Organizar la feria de servicios en la plaza").isVisible(), "la reunión no muestra sus acuerdos");
await check("reunion-registrada");

// 7e. The analyst writes the analysis and publishes Villeta's quarterly report.
await signIn(process.env.USER_NAME);
await page.goto(`${BASE}/gobernanza/informes`);
await page.locator("#territorio").fill("1116");
await page.getByLabel(/Análisis/).fill("La cobertura de la identidad avanza; la distancia a los servicios de salud sigue siendo la barrera principal.");
await page.getByRole("button", { name: "Guardar la versión" }).click();
await page.waitForURL(/\/gobernanza\/informes\?hecho=guardado/);
await page.getByRole("button", { name: /Publicar el informe \d+/ }).first().click();
await page.waitForURL(/\/gobernanza\/informes\?hecho=publicado/);
expect(await page.getByText(/Publicado el \d\d\/\d\d\/\d{4}/).first().isVisible(), "el informe no quedó publicado");
await check("informe-publicado");
await page.goto(`${BASE}/datos-abiertos?t=1116`);
expect(await page.getByRole("link", { name: /Informe del \d{4}-T\d, versión 1/ }).isVisible(), "datos abiertos no ofrece el informe publicado");
await check("datos-abiertos-villeta");

// 8. A citizen lodges a complaint about a service on the public page and follows it by code.
await page.goto(`${BASE}/`);
await page.getByRole("button", { name: "Salir" }).click();
await page.waitForURL(`${BASE}/`);
await page.goto(`${BASE}/reclamos`);
await check("reclamos-publico");
await page.getByLabel("Servicio: mala atención").check();
await page.getByLabel("Qué pasó").fill("En el puesto de salud no me dieron turno.");
await page.waitForTimeout(3200);
await page.getByRole("button", { name: "Enviar el reclamo" }).click();
const code = (await page.locator("#codigo").innerText()).trim();
expect(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){4}$/.test(code), `código de seguimiento inesperado: ${code}`);
await check("reclamo-recibido");
await page.goto(`${BASE}/reclamos/${code}`);
expect(await page.getByText("Recibido").first().isVisible(), "el seguimiento no muestra el estado");
await check("reclamo-seguimiento");

// 8b. The analyst loads MEC's enrolment file: the records without a cédula match (children
// without one, mistyped ones) are linked by name, birth date, sex and district; the doubtful ones
// wait in the linkage review queue, which the analyst opens from the menu.
await signIn(process.env.USER_NAME);
await page.goto(`${BASE}/importaciones`);
await page.getByLabel("Tipo de archivo").selectOption("admin");
await page.getByLabel("Fuente (institución)").fill("MEC");
await page.getByLabel("Archivos").setInputFiles([`${process.env.DATA}/admin/mec_matricula.csv`]);
await page.getByRole("button", { name: "Importar", exact: true }).click();
await page.waitForURL(/importaciones\/trabajos\/\d+/);
await page.getByText("completada").first().waitFor({ timeout: 120000 });
expect(await page.getByText(/Enlazados sin cédula/).first().isVisible(), "la importación no muestra el enlace de registros sin cédula");
await check("importacion-admin-enlace");
await page.getByRole("navigation", { name: "Secciones" }).getByRole("link", { name: "Enlace" }).click();
await page.waitForURL(/\/enlace/);
expect(await page.getByRole("heading", { name: "Revisión del enlace de registros" }).isVisible(), "la cola de revisión del enlace no abre");
await check("enlace-cola");

// 9. On a phone: the dashboard and Orientaciones fit the screen (no sideways scrolling).
await page.setViewportSize({ width: 390, height: 844 });
for (const [path, name] of [["/logros?t=1116", "telefono-logros"], ["/orientaciones", "telefono-orientaciones"], ["/bandeja", "telefono-bandeja"]]) {
  await page.goto(`${BASE}${path}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow <= 1, `${path}: la página es más ancha que un teléfono (${overflow} px de más)`);
  await check(name);
}
await page.setViewportSize({ width: 1280, height: 900 });

// 10. Keyboard: the skip link is the first stop and leads to the content.
await page.keyboard.press("Tab");
expect((await page.evaluate(() => document.activeElement && document.activeElement.className)) === "skip", "el primer Tab no llega al enlace «Ir al contenido»");

await browser.close();
expect(foreign.length === 0, `solicitudes fuera de la máquina: ${foreign.join(", ")}`);
expect(consoleErrors.length === 0, `errores en la consola: ${consoleErrors.join(" | ")}`);
if (failures.length) {
  console.error(`${failures.length} fallas`);
  process.exit(1);
}
console.log(`navegador: ${step} pasos sin fallas; capturas en ${SHOTS}`);

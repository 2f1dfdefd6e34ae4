//! The route table: every endpoint once, with the permission it needs and its parameters. The
//! router, the OpenAPI document and the authorization-matrix tests are built from it, so an
//! endpoint cannot exist without being documented and classified.

use crate::state::AppState;
use crate::{access_api, api, public};
use axum::routing::{delete, get, post, MethodRouter};
use axum::Router;
use vamos_domain::Permission;

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    Path,
    Query,
}

/// A documented parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub place: In,
    /// JSON Schema type: `integer` or `string`.
    pub kind: &'static str,
    pub required: bool,
    pub description: &'static str,
}

/// One endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    pub method: &'static str,
    /// OpenAPI path template (`{id}`).
    pub path: &'static str,
    /// `None`: public, no credential needed.
    pub permission: Option<Permission>,
    /// Needs an authenticated caller even without a permission (session endpoints).
    pub authenticated: bool,
    /// Reads personal data (audited, scoped).
    pub personal: bool,
    pub tag: &'static str,
    pub summary: &'static str,
    pub params: &'static [Param],
    /// Name of the request body schema in the OpenAPI document.
    pub body: Option<&'static str>,
    /// Status of a successful response.
    pub ok: u16,
}

const ID: Param = Param {
    name: "id",
    place: In::Path,
    kind: "integer",
    required: true,
    description: "Número interno",
};
const TERRITORY: Param = Param {
    name: "territory",
    place: In::Query,
    kind: "string",
    required: false,
    description: "PY (nación), DD (departamento) o DDdd (distrito), códigos del INE",
};
const AFTER: Param = Param {
    name: "after",
    place: In::Query,
    kind: "integer",
    required: false,
    description:
        "Continúa después de este número (paginación por cursor: next_after de la página anterior)",
};
const LIMIT: Param = Param {
    name: "limit",
    place: In::Query,
    kind: "integer",
    required: false,
    description: "Tamaño de página (1 a 200; 50 por defecto)",
};
const PURPOSE: Param = Param {
    name: "purpose",
    place: In::Query,
    kind: "string",
    required: false,
    description: "Finalidad de la consulta (queda en el registro de auditoría)",
};
const AS_OF: Param = Param {
    name: "as_of",
    place: In::Query,
    kind: "string",
    required: false,
    description: "Fecha de referencia AAAA-MM-DD (por defecto, la de la última medición)",
};
const MEASUREMENT: Param = Param {
    name: "measurement",
    place: In::Query,
    kind: "integer",
    required: false,
    description: "Número de medición (por defecto, la última)",
};

const fn ep(
    method: &'static str,
    path: &'static str,
    permission: Option<Permission>,
    personal: bool,
    tag: &'static str,
    summary: &'static str,
    params: &'static [Param],
) -> Endpoint {
    Endpoint {
        method,
        path,
        permission,
        authenticated: permission.is_some(),
        personal,
        tag,
        summary,
        params,
        body: None,
        ok: 200,
    }
}

use Permission::*;

/// Every endpoint of the API.
pub const ENDPOINTS: &[Endpoint] = &[
    ep(
        "get",
        "/api/health",
        None,
        false,
        "servicio",
        "Estado del proceso (vivo)",
        &[],
    ),
    ep(
        "get",
        "/api/ready",
        None,
        false,
        "servicio",
        "Preparado: la base de datos responde y está inicializada (y el estado del registro en memoria de los Logros)",
        &[],
    ),
    ep(
        "get",
        "/metrics",
        None,
        false,
        "servicio",
        "Métricas en formato de texto de Prometheus",
        &[],
    ),
    ep(
        "get",
        "/api/openapi.json",
        None,
        false,
        "servicio",
        "Este documento OpenAPI 3.1",
        &[],
    ),
    Endpoint {
        body: Some("Login"),
        ..ep(
            "post",
            "/api/session",
            None,
            false,
            "sesión",
            "Iniciar sesión (cookie de sesión HttpOnly, SameSite=Strict, y token CSRF)",
            &[],
        )
    },
    Endpoint {
        authenticated: true,
        ..ep(
            "get",
            "/api/session",
            None,
            false,
            "sesión",
            "Cuenta, rol, permisos y token CSRF de la sesión actual",
            &[],
        )
    },
    Endpoint {
        authenticated: true,
        ok: 204,
        ..ep(
            "delete",
            "/api/session",
            None,
            false,
            "sesión",
            "Cerrar sesión",
            &[],
        )
    },
    ep(
        "get",
        "/api/whoami",
        None,
        false,
        "sesión",
        "Quién es el llamador (público si no hay credencial)",
        &[],
    ),
    ep(
        "get",
        "/api/persons",
        Some(RegistryRead),
        true,
        "registro",
        "Buscar personas por nombre, cédula o territorio, dentro del ámbito de la cuenta",
        &[
            Param {
                name: "q",
                place: In::Query,
                kind: "string",
                required: false,
                description: "Palabras del nombre (todas deben aparecer)",
            },
            Param {
                name: "cedula",
                place: In::Query,
                kind: "integer",
                required: false,
                description: "Cédula de identidad",
            },
            TERRITORY,
            AFTER,
            LIMIT,
            PURPOSE,
        ],
    ),
    ep(
        "get",
        "/api/persons/{id}",
        Some(RegistryRead),
        true,
        "registro",
        "Una persona (campos según rol o acuerdo de intercambio)",
        &[ID, PURPOSE],
    ),
    ep(
        "get",
        "/api/persons/{id}/status",
        Some(StatusRead),
        true,
        "estatus",
        "Estatus de protección de una persona, por servicio, con la evidencia",
        &[ID, AS_OF, PURPOSE],
    ),
    ep(
        "get",
        "/api/households",
        Some(RegistryRead),
        true,
        "registro",
        "Hogares de un territorio, dentro del ámbito de la cuenta",
        &[TERRITORY, AFTER, LIMIT, PURPOSE],
    ),
    ep(
        "get",
        "/api/households/{id}",
        Some(RegistryRead),
        true,
        "registro",
        "Un hogar y sus miembros",
        &[ID, PURPOSE],
    ),
    ep(
        "get",
        "/api/households/{id}/status",
        Some(StatusRead),
        true,
        "estatus",
        "Estatus de protección de un hogar",
        &[ID, AS_OF, PURPOSE],
    ),
    ep(
        "get",
        "/api/communities",
        Some(RegistryRead),
        true,
        "registro",
        "Comunidades de un territorio",
        &[TERRITORY, AFTER, LIMIT],
    ),
    ep(
        "get",
        "/api/communities/{id}",
        Some(RegistryRead),
        true,
        "registro",
        "Una comunidad con sus conteos",
        &[ID],
    ),
    ep(
        "get",
        "/api/communities/{id}/status",
        Some(StatusRead),
        true,
        "estatus",
        "Estatus de protección de una comunidad (Entorno)",
        &[ID, AS_OF, PURPOSE],
    ),
    ep(
        "get",
        "/api/measurements",
        Some(LogrosRead),
        false,
        "logros",
        "Mediciones guardadas",
        &[],
    ),
    ep(
        "get",
        "/api/measurements/{id}",
        Some(LogrosRead),
        false,
        "logros",
        "Una medición con sus fuentes",
        &[ID],
    ),
    ep(
        "get",
        "/api/logros",
        Some(LogrosRead),
        false,
        "logros",
        "Los diez Logros de un territorio, sin supresión (uso interno)",
        &[TERRITORY, MEASUREMENT],
    ),
    ep(
        "get",
        "/api/catalogue",
        None,
        false,
        "catálogo",
        "Catálogo de servicios: instituciones, servicios, paquetes y evidencia",
        &[],
    ),
    ep(
        "get",
        "/api/public/measurements",
        None,
        false,
        "público",
        "Mediciones publicadas",
        &[],
    ),
    ep(
        "get",
        "/api/public/logros",
        None,
        false,
        "público",
        "Logros y cobertura por territorio, sin datos personales, con supresión de celdas pequeñas",
        &[TERRITORY, MEASUREMENT],
    ),
    ep(
        "get",
        "/api/users",
        Some(UsersAdmin),
        false,
        "administración",
        "Cuentas",
        &[],
    ),
    Endpoint {
        body: Some("NewUser"),
        ok: 201,
        ..ep(
            "post",
            "/api/users",
            Some(UsersAdmin),
            false,
            "administración",
            "Crear una cuenta",
            &[],
        )
    },
    ep(
        "get",
        "/api/tokens",
        Some(UsersAdmin),
        false,
        "administración",
        "Tokens de API (sin sus secretos)",
        &[],
    ),
    Endpoint {
        body: Some("NewToken"),
        ok: 201,
        ..ep(
            "post",
            "/api/tokens",
            Some(UsersAdmin),
            false,
            "administración",
            "Crear un token de API (el secreto se muestra una sola vez)",
            &[],
        )
    },
    Endpoint {
        ok: 204,
        ..ep(
            "delete",
            "/api/tokens/{id}",
            Some(UsersAdmin),
            false,
            "administración",
            "Revocar un token",
            &[ID],
        )
    },
    ep(
        "get",
        "/api/agreements",
        Some(UsersAdmin),
        false,
        "administración",
        "Acuerdos de intercambio de datos",
        &[],
    ),
    Endpoint {
        body: Some("Agreement"),
        ok: 201,
        ..ep(
            "post",
            "/api/agreements",
            Some(UsersAdmin),
            false,
            "administración",
            "Registrar un acuerdo de intercambio de datos",
            &[],
        )
    },
    ep(
        "get",
        "/api/audit",
        Some(AuditRead),
        false,
        "auditoría",
        "Registro de auditoría, del más reciente al más antiguo (format=csv para exportar)",
        &[
            Param {
                name: "actor",
                place: In::Query,
                kind: "string",
                required: false,
                description: "Cuenta",
            },
            Param {
                name: "subject",
                place: In::Query,
                kind: "string",
                required: false,
                description: "Número del sujeto",
            },
            Param {
                name: "from",
                place: In::Query,
                kind: "string",
                required: false,
                description: "Desde (RFC 3339)",
            },
            Param {
                name: "to",
                place: In::Query,
                kind: "string",
                required: false,
                description: "Hasta (RFC 3339)",
            },
            Param {
                name: "before",
                place: In::Query,
                kind: "integer",
                required: false,
                description: "Registros anteriores a este número",
            },
            LIMIT,
            Param {
                name: "format",
                place: In::Query,
                kind: "string",
                required: false,
                description: "json (por defecto) o csv",
            },
        ],
    ),
    ep(
        "get",
        "/api/audit/verify",
        Some(AuditRead),
        false,
        "auditoría",
        "Verifica la cadena de hashes del registro de auditoría",
        &[],
    ),
    ep(
        "get",
        "/api/referrals",
        Some(ReferralsRead),
        true,
        "referencias",
        "Reporte de referencias por prioridad (operador: las de su institución; Mesa: las de su territorio), con los campos personales permitidos; format=csv|xlsx para descargar",
        &[
            Param { name: "institution", place: In::Query, kind: "string", required: false, description: "Institución (código del catálogo)" },
            TERRITORY,
            Param { name: "service", place: In::Query, kind: "string", required: false, description: "Servicio (código del catálogo)" },
            Param { name: "status", place: In::Query, kind: "string", required: false, description: "emitida, recibida, contactada, atendida, rechazada, vencida, cerrada o abierta" },
            Param { name: "min_priority", place: In::Query, kind: "integer", required: false, description: "Prioridad mínima" },
            Param { name: "household", place: In::Query, kind: "integer", required: false, description: "Solo las referencias de este hogar y sus miembros" },
            Param { name: "limit", place: In::Query, kind: "integer", required: false, description: "Tamaño de página (1 a 1000; 100 por defecto; sin límite al descargar)" },
            Param { name: "offset", place: In::Query, kind: "integer", required: false, description: "Desplazamiento" },
            Param { name: "format", place: In::Query, kind: "string", required: false, description: "json (por defecto), csv o xlsx" },
            PURPOSE,
        ],
    ),
    ep(
        "get",
        "/api/referrals/funnel",
        Some(LogrosRead),
        false,
        "referencias",
        "Embudo y oportunidad por institución, servicio y distrito: referidas, recibidas, contactadas, atendidas, rechazadas, vencidas; días hasta la atención (mediana, p90); atendidas sin referencia",
        &[
            Param { name: "institution", place: In::Query, kind: "string", required: false, description: "Institución" },
            TERRITORY,
            Param { name: "service", place: In::Query, kind: "string", required: false, description: "Servicio" },
        ],
    ),
    Endpoint {
        body: Some("GenerateReferrals"),
        ..ep(
            "post",
            "/api/referrals/generate",
            Some(ReferralsWork),
            false,
            "referencias",
            "Generar las referencias de una medición (UTGS): una por unidad y servicio desprotegido; cierra las que perdieron su necesidad",
            &[],
        )
    },
    Endpoint {
        body: Some("Acknowledge"),
        ..ep(
            "post",
            "/api/referrals/acknowledge",
            Some(ReferralsWork),
            false,
            "referencias",
            "Acusar recibo: las referencias emitidas de la institución en el territorio pasan a recibidas",
            &[],
        )
    },
    Endpoint {
        body: Some("StatusChange"),
        ..ep(
            "post",
            "/api/referrals/{id}/status",
            Some(ReferralsWork),
            false,
            "referencias",
            "Cambiar el estado de una referencia: recibida, contactada o rechazada (con motivo)",
            &[ID],
        )
    },
    Endpoint {
        body: Some("CounterReferral"),
        ok: 201,
        ..ep(
            "post",
            "/api/counter-referrals",
            Some(CounterReferralsWrite),
            false,
            "contra-referencias",
            "Informar un servicio prestado (contra-referencia); idempotente por id de evento: 201 aceptada, 200 ya recibida, 422 rechazada con los motivos",
            &[],
        )
    },
    Endpoint {
        body: Some("CounterReferralBatch"),
        ..ep(
            "post",
            "/api/counter-referrals/batch",
            Some(CounterReferralsWrite),
            false,
            "contra-referencias",
            "Lote de contra-referencias: se guardan juntas las válidas y se informa cada inválida (fila, columna, valor, motivo); un lote de más de 256 eventos pasa por el registro de entrada: aceptado y durable, su referencia se responde al aplicarlo, enseguida (`deferred` los cuenta)",
            &[],
        )
    },
    Endpoint {
        body: Some("CounterReferralFile"),
        ..ep(
            "post",
            "/api/counter-referrals/file",
            Some(CounterReferralsWrite),
            false,
            "contra-referencias",
            "Archivo de contra-referencias (CSV en cualquier codificación y separador, o XLSX) como cuerpo de la solicitud",
            &[],
        )
    },
    ep(
        "get",
        "/api/persons/{id}/route",
        Some(StatusRead),
        true,
        "estatus",
        "Ruta de servicios de una persona: los servicios de su paquete en orden, los que le faltan, dónde y cuándo ir, y sus referencias abiertas",
        &[ID, PURPOSE],
    ),
    ep(
        "get",
        "/api/delivery-points",
        Some(CatalogueRead),
        false,
        "catálogo",
        "Puntos de atención de los servicios (todos, o los que sirven a un distrito)",
        &[Param { name: "district", place: In::Query, kind: "string", required: false, description: "Distrito DDdd" }],
    ),
];

fn handler(method: &str, path: &str) -> Option<MethodRouter<AppState>> {
    Some(match (method, path) {
        ("get", "/api/health") => get(api::health),
        ("get", "/api/ready") => get(api::ready),
        ("get", "/metrics") => get(api::metrics),
        ("get", "/api/openapi.json") => get(crate::openapi::serve),
        ("post", "/api/session") => post(api::login),
        ("get", "/api/session") => get(api::session_info),
        ("delete", "/api/session") => delete(api::logout),
        ("get", "/api/whoami") => get(api::whoami),
        ("get", "/api/persons") => get(api::search_persons),
        ("get", "/api/persons/{id}") => get(api::get_person),
        ("get", "/api/persons/{id}/status") => get(api::person_status),
        ("get", "/api/households") => get(api::list_households),
        ("get", "/api/households/{id}") => get(api::get_household),
        ("get", "/api/households/{id}/status") => get(api::household_status),
        ("get", "/api/communities") => get(api::list_communities),
        ("get", "/api/communities/{id}") => get(api::get_community),
        ("get", "/api/communities/{id}/status") => get(api::community_status),
        ("get", "/api/measurements") => get(api::list_measurements),
        ("get", "/api/measurements/{id}") => get(api::get_measurement),
        ("get", "/api/logros") => get(api::logros),
        ("get", "/api/catalogue") => get(api::catalogue),
        ("get", "/api/public/measurements") => get(public::measurements),
        ("get", "/api/public/logros") => get(public::logros),
        ("get", "/api/users") => get(api::list_users),
        ("post", "/api/users") => post(api::post_user),
        ("get", "/api/tokens") => get(api::list_tokens),
        ("post", "/api/tokens") => post(api::post_token),
        ("delete", "/api/tokens/{id}") => delete(api::delete_token),
        ("get", "/api/agreements") => get(api::list_agreements),
        ("post", "/api/agreements") => post(api::post_agreement),
        ("get", "/api/audit") => get(api::list_audit),
        ("get", "/api/audit/verify") => get(api::verify_audit),
        ("get", "/api/referrals") => get(access_api::list_referrals),
        ("get", "/api/referrals/funnel") => get(access_api::funnel),
        ("post", "/api/referrals/generate") => post(access_api::generate),
        ("post", "/api/referrals/acknowledge") => post(access_api::acknowledge),
        ("post", "/api/referrals/{id}/status") => post(access_api::change_status),
        ("post", "/api/counter-referrals") => post(access_api::post_one),
        ("post", "/api/counter-referrals/batch") => post(access_api::post_batch),
        ("post", "/api/counter-referrals/file") => post(access_api::post_file),
        ("get", "/api/persons/{id}/route") => get(access_api::person_route),
        ("get", "/api/delivery-points") => get(access_api::delivery_points),
        _ => return None,
    })
}

/// Endpoints that take uploads (counter-referral batches and files): the upload body limit.
pub fn is_upload(e: &Endpoint) -> bool {
    e.path.starts_with("/api/counter-referrals/")
}

/// The router of every endpoint in [`ENDPOINTS`] (a table row without a handler is a bug
/// the tests catch: it is skipped here and reported missing there), each with its body limit.
pub fn router(body_limit: usize, upload_limit: usize) -> Router<AppState> {
    let mut by_path: std::collections::BTreeMap<&str, MethodRouter<AppState>> =
        std::collections::BTreeMap::new();
    for e in ENDPOINTS {
        let Some(h) = handler(e.method, e.path) else {
            tracing::error!(path = e.path, method = e.method, "ruta sin manejador");
            continue;
        };
        let limit = if is_upload(e) {
            upload_limit
        } else {
            body_limit
        };
        let h = h
            .layer::<_, std::convert::Infallible>(axum::extract::DefaultBodyLimit::max(limit))
            .layer::<_, std::convert::Infallible>(tower_http::limit::RequestBodyLimitLayer::new(
                limit,
            ));
        let entry = by_path.remove(e.path);
        by_path.insert(
            e.path,
            match entry {
                Some(m) => m.merge(h),
                None => h,
            },
        );
    }
    by_path
        .into_iter()
        .fold(Router::new(), |r, (path, m)| r.route(path, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_has_a_handler_and_is_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for e in ENDPOINTS {
            assert!(
                handler(e.method, e.path).is_some(),
                "{} {}",
                e.method,
                e.path
            );
            assert!(
                seen.insert((e.method, e.path)),
                "duplicate {} {}",
                e.method,
                e.path
            );
            assert!(e.personal <= e.permission.is_some());
        }
    }
}

//! The audit trail: reading it (JSON pages or a CSV export, which carries the chain's checkpoint)
//! and verifying its keyed chain against the checkpoint; both are themselves audited.

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::audit::{self as chain, AuditQuery};
use vamos_domain::Permission;

pub use vamos_app::audit::audit_csv;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit))
        .routes(routes!(verify_audit))
}

/// Which records.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditListQuery {
    /// Cuenta
    pub actor: Option<String>,
    /// Número del sujeto
    pub subject: Option<String>,
    /// Desde (RFC 3339)
    pub from: Option<String>,
    /// Hasta (RFC 3339)
    pub to: Option<String>,
    /// Registros anteriores a este número
    pub before: Option<i64>,
    /// Tamaño de página (1 a 200; 50 por defecto)
    pub limit: Option<i64>,
    /// json (por defecto) o csv
    pub format: Option<String>,
}

/// One record of the trail.
#[derive(Serialize, ToSchema)]
pub struct AuditRecord {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub role: Option<String>,
    pub institution: Option<String>,
    pub action: String,
    pub subject_kind: String,
    pub subject_id: String,
    pub purpose: String,
    pub request_id: Option<String>,
    pub outcome: String,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

impl From<chain::AuditRow> for AuditRecord {
    fn from(r: chain::AuditRow) -> Self {
        AuditRecord {
            id: r.id,
            at: r.at,
            actor: r.actor,
            role: r.role,
            institution: r.institution,
            action: r.action,
            subject_kind: r.subject_kind,
            subject_id: r.subject_id,
            purpose: r.purpose,
            request_id: r.request_id,
            outcome: r.outcome,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// A page of the trail, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditRecord>,
    /// Pase este número como `before` para la página siguiente
    pub next_before: Option<i64>,
}

#[utoipa::path(get, path = "/api/audit", tag = "auditoría",
    summary = "Registro de auditoría, del más reciente al más antiguo (format=csv para exportar)",
    params(AuditListQuery),
    responses((status = 200, description = "Correcto", body = AuditPage)),
    extensions(("x-vamos-permission" = json!(Permission::AuditRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn list_audit(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<AuditListQuery>,
) -> ApiResult<Response> {
    let csv = q.format.as_deref() == Some("csv");
    let query = AuditQuery {
        actor: q.actor,
        subject_id: q.subject,
        from: q.from,
        to: q.to,
        before: q.before,
        limit: q.limit.unwrap_or(if csv { 100_000 } else { 100 }),
    };
    let (rows, checkpoint) = p
        .act(&st, move |s, actor| {
            let rows = chain::list(s, actor, &query, csv)?;
            let checkpoint = if csv {
                chain::current_checkpoint(actor)?
            } else {
                None
            };
            Ok((rows, checkpoint))
        })
        .await?;
    if csv {
        // The export carries the chain's checkpoint, in a header of its own.
        let checkpoint = checkpoint
            .and_then(|c| serde_json::to_string(&c).ok())
            .unwrap_or_default();
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"auditoria.csv\"".to_string(),
                ),
                (CHECKPOINT_HEADER, checkpoint),
            ],
            audit_csv(&rows)?,
        )
            .into_response());
    }
    let next_before = rows.last().map(|r| r.id);
    Ok(Json(AuditPage {
        items: rows.into_iter().map(AuditRecord::from).collect(),
        next_before,
    })
    .into_response())
}

/// The header of a CSV export that carries the audit chain's keyed checkpoint (JSON).
pub const CHECKPOINT_HEADER: header::HeaderName =
    header::HeaderName::from_static("x-vamos-audit-checkpoint");

/// The result of walking the chain.
#[derive(Serialize, ToSchema)]
pub struct Verification {
    pub intact: bool,
    pub rows: u64,
    /// Sello del último registro
    pub head: Option<String>,
    pub first_broken: Option<Broken>,
    /// Registros iniciales sellados antes de la clave (anclados por el primero sellado con ella)
    pub unkeyed_rows: u64,
    /// El punto de control contra el que se verificó la cadena
    pub checkpoint: Option<CheckpointBody>,
}

/// The keyed checkpoint of the chain, kept outside the database.
#[derive(Serialize, ToSchema)]
pub struct CheckpointBody {
    /// Registros de la cadena hasta su último
    pub rows: i64,
    pub head_id: i64,
    pub head_hash: String,
    /// Cuándo se selló (RFC 3339)
    pub at: String,
    /// Identificador público de la clave que lo selló
    pub key_id: String,
}

/// The first record that does not verify (0: the checkpoint, not a record), and why.
#[derive(Serialize, ToSchema)]
pub struct Broken {
    pub id: i64,
    pub reason: String,
}

#[utoipa::path(get, path = "/api/audit/verify", tag = "auditoría",
    summary = "Verifica la cadena sellada del registro de auditoría y su punto de control",
    responses((status = 200, description = "Correcto", body = Verification)),
    extensions(("x-vamos-permission" = json!(Permission::AuditRead.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn verify_audit(
    State(st): State<AppState>,
    p: Principal,
) -> ApiResult<Json<Verification>> {
    let v = p.act(&st, chain::verify).await?;
    Ok(Json(Verification {
        intact: v.broken.is_none(),
        rows: v.rows,
        head: v.head,
        first_broken: v.broken.map(|(id, reason)| Broken { id, reason }),
        unkeyed_rows: v.unkeyed_rows,
        checkpoint: v.checkpoint.map(|c| CheckpointBody {
            rows: c.rows,
            head_id: c.head_id,
            head_hash: c.head_hash,
            at: c.at,
            key_id: c.key_id,
        }),
    }))
}

//! The use cases of the DCI Social Registry API; the protocol itself — the envelope, the query
//! language, the answers and callbacks — is the server's `dci` module, and the signatures are
//! [`crate::dci_signing`]. Here: the registered senders (`vamos dci sender …`) and the one a
//! message speaks for, the transaction every accepted message opens, searches of persons within
//! the sender's territories, subscriptions to new registrations, and the notifications sent on
//! a subscription's behalf. Every disclosure and every change of a subscription is in the
//! audit trail; transactions keep statuses and counts, never records.

use crate::accounts::random_hex;
use crate::clock::now_rfc3339;
use crate::{Actor, Error, Result};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use vamos_domain::{Permission, Role, Scope};
use vamos_store::dci as store;
use vamos_store::views::{self, Filter, Op, PersonColumn};
use vamos_store::Store;

pub use vamos_store::dci::{Sender, Subscription, Transaction};

// ---------------------------------------------------------------- senders

/// A sender to register, or to replace (`vamos dci sender add`).
#[derive(Debug, Clone)]
pub struct NewSender {
    pub id: String,
    /// The account whose API tokens speak for the sender.
    pub username: String,
    /// ed25519 public key (base64): with it, messages without a valid signature are refused.
    pub public_key: Option<String>,
    /// The URL under which the sender receives answers and notifications.
    pub callback_base: Option<String>,
}

/// Registers a sender, or replaces its account, key and callback URL and reactivates it: the
/// account must exist and its role allow the DCI API. Administering senders is administering
/// who may use the API: the permission of accounts and tokens. Audited.
pub fn add_sender(s: &mut dyn Store, actor: &Actor, new: &NewSender) -> Result<()> {
    actor.require(Permission::UsersAdmin)?;
    if new.id.trim().is_empty() || new.id.len() > 99 {
        return Err(Error::bad_request("--id debe tener de 1 a 99 caracteres"));
    }
    let user = &new.username;
    let Some(u) = vamos_store::accounts::user_by_name(&mut s.db(), user)? else {
        return Err(Error::bad_request(format!(
            "no existe la cuenta «{}»",
            vamos_domain::limits::echo(user)
        )));
    };
    let role = Role::parse(&u.role)
        .ok_or_else(|| Error::bad_request(format!("rol desconocido «{}»", u.role)))?;
    if !role.grants(Permission::Dci) {
        return Err(Error::bad_request(format!(
            "el rol {} de «{user}» no permite usar la API DCI",
            role.label()
        )));
    }
    if let Some(k) = &new.public_key {
        crate::dci_signing::check_public_key(k).map_err(Error::bad_request)?;
    }
    if let Some(c) = &new.callback_base {
        if !(c.starts_with("https://") || c.starts_with("http://")) || c.contains(' ') {
            return Err(Error::bad_request(
                "--callback-base debe ser una URL http:// o https://",
            ));
        }
    }
    store::upsert_sender(
        &mut s.db(),
        &Sender {
            sender_id: new.id.trim().to_string(),
            username: user.clone(),
            public_key: new.public_key.as_ref().map(|k| k.trim().to_string()),
            callback_base: new.callback_base.clone(),
            active: true,
            created_at: now_rfc3339(),
        },
    )?;
    actor.audit(
        s,
        "registrar emisor DCI",
        "emisor DCI",
        &new.id,
        "administración de la API DCI",
        "ok",
    )
}

/// The registered senders (`vamos dci sender list`).
pub fn senders(s: &mut dyn Store, actor: &Actor) -> Result<Vec<Sender>> {
    actor.require(Permission::UsersAdmin)?;
    Ok(store::senders(&mut s.db())?)
}

/// Deactivates sender `id` (its messages are refused from then on); `false` when there is no
/// such sender. Audited either way.
pub fn disable_sender(s: &mut dyn Store, actor: &Actor, id: &str) -> Result<bool> {
    actor.require(Permission::UsersAdmin)?;
    let done = store::deactivate_sender(&mut s.db(), id)?;
    actor.audit(
        s,
        "desactivar emisor DCI",
        "emisor DCI",
        id,
        "administración de la API DCI",
        if done { "ok" } else { "no encontrado" },
    )?;
    Ok(done)
}

/// The sender `sender_id` a message of `actor` (account `username`) speaks for: `None` unless
/// it is registered, active and registered for that account.
pub fn sender_of(
    s: &mut dyn Store,
    actor: &Actor,
    sender_id: &str,
    username: &str,
) -> Result<Option<Sender>> {
    actor.require(Permission::Dci)?;
    Ok(store::sender_by_id(&mut s.db(), sender_id)?.filter(|x| x.active && x.username == username))
}

/// Where an answer to `sender` goes: `sender_uri` when it lies under the sender's registered
/// callback URL, else that URL + `path`; the error says why neither will do.
pub fn callback_url(
    sender: &Sender,
    sender_uri: Option<&str>,
    path: &str,
) -> std::result::Result<String, String> {
    let Some(base) = sender.callback_base.as_deref() else {
        return Err(format!(
            "el emisor {} no tiene URL de retorno registrada: use los endpoints /sync o registre --callback-base",
            sender.sender_id
        ));
    };
    match sender_uri {
        Some(u) if u.starts_with(base) && !u.contains("..") => Ok(u.to_string()),
        Some(u) => Err(format!(
            "sender_uri «{}» no está bajo la URL de retorno registrada del emisor",
            vamos_domain::limits::echo(u)
        )),
        None => Ok(format!("{}{path}", base.trim_end_matches('/'))),
    }
}

// ---------------------------------------------------------------- transactions

/// Opens the transaction of an accepted message; `false` when its sender already used its
/// `message_id` (a replay, refused before any work).
pub fn open_transaction(s: &mut dyn Store, t: &Transaction) -> Result<bool> {
    Ok(store::insert_transaction(&mut s.db(), t)?)
}

/// Ends the transaction `correlation_id` with its status and summary (statuses and counts, no
/// records) and, when there was one, how its callback went.
pub fn finish_transaction(
    s: &mut dyn Store,
    correlation_id: &str,
    status: &str,
    summary: &str,
    callback: Option<&str>,
) -> Result<()> {
    Ok(store::finish_transaction(
        &mut s.db(),
        correlation_id,
        status,
        summary,
        callback,
        &now_rfc3339(),
    )?)
}

/// Notes how the callback of transaction `correlation_id` went.
pub fn note_callback(s: &mut dyn Store, correlation_id: &str, note: &str) -> Result<()> {
    Ok(store::note_callback(
        &mut s.db(),
        correlation_id,
        note,
        &now_rfc3339(),
    )?)
}

/// The transactions of `sender_id` of kind `action`, by transaction id or correlation id
/// (`txn/status`).
pub fn transactions(
    s: &mut dyn Store,
    sender_id: &str,
    action: &str,
    transaction_id: Option<&str>,
    correlation_id: Option<&str>,
) -> Result<Vec<Transaction>> {
    Ok(store::find_transactions(
        &mut s.db(),
        sender_id,
        action,
        transaction_id,
        correlation_id,
    )?)
}

// ---------------------------------------------------------------- search

/// One search of a message, in the store's terms (the server reads the query language).
#[derive(Debug, Clone)]
pub struct Search {
    /// The request's `reference_id` in its message (the sender's).
    pub reference_id: String,
    /// The query's type (`idtype-value`, `expression` or `predicate`).
    pub query_type: String,
    pub filter: Filter,
    /// Columns to order by, descending when `true` (then by id).
    pub sort: Vec<(PersonColumn, bool)>,
    /// Rows per page (1 to the API's maximum).
    pub size: i64,
    /// Page number, from 1.
    pub number: i64,
}

/// A page of a search: how many persons match in all, and the page's rows (every column: the
/// caller keeps the fields the sender may see).
#[derive(Debug, Clone)]
pub struct Found {
    pub total: i64,
    pub rows: Vec<Map<String, Value>>,
}

/// Why one search of a message was refused: the DCI reason code and the Spanish message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// `rjct.filter.invalid` (a filter on a field the sender may not see) or
    /// `rjct.sort.invalid` (a sort key it may not see).
    pub code: &'static str,
    pub message: String,
}

/// One search of a message answered: its page, or why it was refused.
pub type Answered = std::result::Result<Found, Refused>;

/// Runs the searches of one message of `actor` within its territories and records the
/// disclosure — every person returned — once for the message (`purpose`, correlation `cid`).
/// Returns the person fields `actor` may see (refused when it may see none) and each search's
/// page, in order. A search whose filter or sort key uses a field the sender may not see is
/// refused without touching the registry, so its answer is the same whether or not anyone
/// would match (no count to probe a cédula, a birth date or a sex with).
pub fn search(
    s: &mut dyn Store,
    actor: &Actor,
    searches: &[Search],
    purpose: &str,
    cid: &str,
) -> Result<(Option<BTreeSet<String>>, Vec<Answered>)> {
    actor.require(Permission::Dci)?;
    let fields = crate::registry::visible_fields(s, actor)?;
    let scope = actor.scope.district_ranges();
    let mut pages = Vec::with_capacity(searches.len());
    let mut disclosed: Vec<String> = Vec::new();
    let mut refused: Vec<&str> = Vec::new();
    for q in searches {
        let hidden = match (
            crate::registry::hidden_filter_field(&fields, &q.filter),
            crate::registry::hidden_sort_field(&fields, &q.sort),
        ) {
            (Some(f), _) => Some((f, "rjct.filter.invalid", "filtrar")),
            (None, Some(f)) => Some((f, "rjct.sort.invalid", "ordenar")),
            (None, None) => None,
        };
        if let Some((field, code, what)) = hidden {
            refused.push(field);
            pages.push(Err(Refused {
                code,
                message: crate::registry::hidden_field_message(field, what),
            }));
            continue;
        }
        let total = views::count_persons(&mut s.db(), &q.filter, &scope)?;
        let rows = if (q.number - 1) * q.size < total {
            views::search_persons_offset(
                &mut s.db(),
                &q.filter,
                &scope,
                &q.sort,
                (q.number - 1) * q.size,
                q.size,
            )?
        } else {
            Vec::new()
        };
        disclosed.extend(
            rows.iter()
                .filter_map(|r| r.get("id").and_then(Value::as_i64))
                .map(|i| i.to_string()),
        );
        pages.push(Ok(Found { total, rows }));
    }
    let refusals = if refused.is_empty() {
        String::new()
    } else {
        format!(
            ", {} consultas denegadas por campos fuera de su acuerdo ({})",
            refused.len(),
            refused.join(",")
        )
    };
    let subject = if disclosed.is_empty() {
        nothing_found(searches)
    } else {
        disclosed.join(",")
    };
    actor.audit(
        s,
        "buscar personas (DCI)",
        "persona",
        &subject,
        purpose,
        &format!(
            "ok: {} registros{refusals}, correlación {cid}",
            disclosed.len()
        ),
    )?;
    Ok((fields, pages))
}

/// The audit subject of a search message that disclosed nobody: which requests found nothing
/// and of what type, so the record can be matched to the sender's own log — never the values
/// searched for, which may be personal (a cédula, a name, a birth date).
fn nothing_found(searches: &[Search]) -> String {
    if searches.is_empty() {
        return "ninguna persona (ninguna solicitud válida)".into();
    }
    let asked: Vec<String> = searches
        .iter()
        .map(|q| format!("{} ({})", q.reference_id, q.query_type))
        .collect();
    format!("ninguna persona: solicitudes {}", asked.join(", "))
}

// ---------------------------------------------------------------- subscriptions

/// A subscription asked for, as the server read it.
#[derive(Debug, Clone)]
pub struct SubscribeRequest {
    pub reference_id: String,
    /// `REGISTER` or `NewHouseHoldMember`.
    pub event_type: &'static str,
    pub filter_type: String,
    /// The filter as canonical JSON (two equal filters have the same text).
    pub filter: String,
    /// The filter as the server's query language read it: its fields must be ones the account
    /// may see.
    pub parsed: Filter,
}

/// What became of a subscription asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscribed {
    /// Made, with its code and when.
    New { code: String, at: String },
    /// The sender already has the same subscription.
    AlreadySubscribed,
    /// The filter tests a field the account may not see: refused before anything is stored,
    /// whatever the registry holds (each notification would answer it).
    HiddenField(String),
}

/// Subscribes `sender` (as `actor`, the sender's account) to new registrations: each request
/// becomes a subscription that starts at the registry as it stands now, unless the sender
/// already has the same one. Refused when the account may see no person fields; audited
/// (codes, correlation `cid`).
pub fn subscribe(
    s: &mut dyn Store,
    actor: &Actor,
    sender: &Sender,
    transaction_id: &str,
    requests: &[SubscribeRequest],
    cid: &str,
) -> Result<Vec<Subscribed>> {
    actor.require(Permission::Dci)?;
    let fields = crate::registry::visible_fields(s, actor)?;
    let existing = store::active_subscriptions(&mut s.db(), Some(&sender.sender_id))?;
    let (last_p, last_h) = store::registry_watermarks(&mut s.db())?;
    let mut out = Vec::with_capacity(requests.len());
    let mut codes = Vec::new();
    let mut refused = Vec::new();
    for r in requests {
        if let Some(field) = crate::registry::hidden_filter_field(&fields, &r.parsed) {
            refused.push(format!("{} ({field})", r.reference_id));
            out.push(Subscribed::HiddenField(
                crate::registry::hidden_field_message(field, "suscribirse filtrando"),
            ));
            continue;
        }
        if existing.iter().any(|e| {
            e.reg_event_type == r.event_type
                && e.filter == r.filter
                && e.filter_type == r.filter_type
        }) {
            out.push(Subscribed::AlreadySubscribed);
            continue;
        }
        let code = random_hex(10)?;
        let now = now_rfc3339();
        store::insert_subscription(
            &mut s.db(),
            &Subscription {
                code: code.clone(),
                sender_id: sender.sender_id.clone(),
                username: sender.username.clone(),
                transaction_id: transaction_id.into(),
                reference_id: r.reference_id.clone(),
                reg_event_type: r.event_type.into(),
                filter_type: r.filter_type.clone(),
                filter: r.filter.clone(),
                notify_record_type: "Member".into(),
                status: "subscribe".into(),
                last_person_id: last_p,
                last_household_id: last_h,
                created_at: now.clone(),
                updated_at: now.clone(),
            },
        )?;
        codes.push(code.clone());
        out.push(Subscribed::New { code, at: now });
    }
    actor.audit(
        s,
        "suscribir (DCI)",
        "suscripción",
        &codes.join(","),
        "notificación de nuevos registros",
        &format!(
            "ok: {} suscripciones{}, correlación {cid}",
            codes.len(),
            if refused.is_empty() {
                String::new()
            } else {
                format!(
                    ", denegadas por campos fuera de su acuerdo: {}",
                    refused.join(", ")
                )
            }
        ),
    )?;
    Ok(out)
}

/// What became of a subscription code to cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsubscribed {
    /// No subscription has that code.
    Unknown,
    /// The subscription is another sender's.
    OtherSender,
    /// It was cancelled before.
    AlreadyCancelled,
    /// Cancelled now.
    Cancelled,
}

/// Cancels `sender_id`'s subscriptions `codes` (as `actor`, the sender's account); audited
/// (the codes now cancelled, correlation `cid`).
pub fn unsubscribe(
    s: &mut dyn Store,
    actor: &Actor,
    sender_id: &str,
    codes: &[&str],
    cid: &str,
) -> Result<Vec<Unsubscribed>> {
    actor.require(Permission::Dci)?;
    let mut out = Vec::with_capacity(codes.len());
    let mut cancelled = Vec::new();
    for code in codes {
        let r = match store::subscription_by_code(&mut s.db(), code)? {
            None => Unsubscribed::Unknown,
            Some(sub) if sub.sender_id != sender_id => Unsubscribed::OtherSender,
            Some(sub) if sub.status == "unsubscribe" => Unsubscribed::AlreadyCancelled,
            Some(_) => {
                store::set_subscription_status(&mut s.db(), code, "unsubscribe", &now_rfc3339())?;
                Unsubscribed::Cancelled
            }
        };
        if matches!(r, Unsubscribed::AlreadyCancelled | Unsubscribed::Cancelled) {
            cancelled.push(*code);
        }
        out.push(r);
    }
    actor.audit(
        s,
        "cancelar suscripción (DCI)",
        "suscripción",
        &cancelled.join(","),
        "notificación de nuevos registros",
        &format!("ok: {} canceladas, correlación {cid}", cancelled.len()),
    )?;
    Ok(out)
}

// ---------------------------------------------------------------- notifications

/// New registrations to notify to a subscriber.
#[derive(Debug, Clone)]
pub struct Notification {
    pub sub: Subscription,
    /// Where they go: under the sender's registered callback URL.
    pub callback: String,
    /// The subscription's account, on whose behalf they are sent (and audited).
    pub actor: Actor,
    /// The person fields that account may see now.
    pub fields: Option<BTreeSet<String>>,
    /// The persons' ids.
    pub ids: Vec<String>,
    /// The persons' rows (every column: keep `fields`).
    pub rows: Vec<Map<String, Value>>,
    /// The watermarks (last person, last household) to move to once delivered.
    pub marks: (i64, i64),
}

/// The account of subscription `code`, as notifications act for it: its role and territories
/// as they are now, limited to the DCI API; `None` when its role or territories no longer read.
fn subscription_actor(user: &vamos_store::accounts::User, code: &str) -> Option<Actor> {
    let role = Role::parse(&user.role)?;
    let scope = if role.is_national() {
        Scope::National
    } else {
        Scope::from_stored(&user.territories).ok()?
    };
    Some(Actor {
        name: format!("{} (suscripción DCI {code})", user.username),
        role: Some(role),
        institution: user.institution.clone(),
        scope,
        request_id: None,
        scopes: Some(vec![Permission::Dci]),
        operator: false,
    })
}

/// The notifications due now: for every active subscription of an active sender and account
/// (whose role still allows the DCI API and some person fields), the persons registered after
/// its watermark that match its filter within the account's territories, at most `batch` of
/// them. `filter_of` reads a subscription's filter (the server's query language; `None` when
/// it no longer reads). A subscription with nothing new to send moves its watermarks at once.
pub fn pending_notifications(
    s: &mut dyn Store,
    filter_of: &dyn Fn(&Subscription) -> Option<Filter>,
    batch: i64,
) -> Result<Vec<Notification>> {
    let subs = store::active_subscriptions(&mut s.db(), None)?;
    if subs.is_empty() {
        return Ok(Vec::new());
    }
    let (max_p, max_h) = store::registry_watermarks(&mut s.db())?;
    let mut out = Vec::new();
    for sub in subs {
        if sub.last_person_id >= max_p {
            continue;
        }
        let Some(sender) = store::sender_by_id(&mut s.db(), &sub.sender_id)?.filter(|x| x.active)
        else {
            continue;
        };
        let Some(user) =
            vamos_store::accounts::user_by_name(&mut s.db(), &sub.username)?.filter(|u| u.active)
        else {
            continue;
        };
        let Some(actor) = subscription_actor(&user, &sub.code) else {
            continue;
        };
        if !actor.role.is_some_and(|r| r.grants(Permission::Dci)) {
            continue;
        }
        let Ok(fields) = crate::registry::visible_fields(s, &actor) else {
            continue;
        };
        let Some(filter) = filter_of(&sub) else {
            continue;
        };
        // A filter on a field the account may not see (now: agreements change) would make
        // every notification an answer to it; such a subscription sends nothing.
        if crate::registry::hidden_filter_field(&fields, &filter).is_some() {
            continue;
        }
        let mut conds = vec![filter];
        if sub.reg_event_type == "NewHouseHoldMember" {
            conds.push(Filter::Cmp(
                PersonColumn::HouseholdId,
                Op::Le,
                sub.last_household_id.into(),
            ));
        }
        let page = views::search_persons(
            &mut s.db(),
            &Filter::And(conds),
            &actor.scope.district_ranges(),
            Some(sub.last_person_id),
            batch,
        )?;
        // A full page: continue after its last id next round; else everything up to now is seen.
        let marks = match page.next {
            Some(last) => (last, sub.last_household_id),
            None => (max_p, max_h),
        };
        let Ok(callback) = callback_url(&sender, None, "/registry/notify") else {
            continue;
        };
        if page.items.is_empty() {
            store::advance_subscription(&mut s.db(), &sub.code, marks.0, marks.1, &now_rfc3339())?;
            continue;
        }
        let ids = page
            .items
            .iter()
            .filter_map(|r| r.get("id").and_then(Value::as_i64))
            .map(|i| i.to_string())
            .collect();
        out.push(Notification {
            sub,
            callback,
            actor,
            fields,
            ids,
            rows: page.items,
            marks,
        });
    }
    Ok(out)
}

/// Records a notification of subscription `code` sent as `actor` (its account): the persons
/// `ids` and `outcome` (delivered or why not); once `delivered`, the subscription's watermarks
/// move to the given marks.
pub fn record_notification(
    s: &mut dyn Store,
    actor: &Actor,
    code: &str,
    ids: &str,
    outcome: &str,
    delivered: Option<(i64, i64)>,
) -> Result<()> {
    actor.audit(
        s,
        "notificar registros (DCI)",
        "persona",
        ids,
        &format!("suscripción {code}"),
        outcome,
    )?;
    if let Some((p, h)) = delivered {
        store::advance_subscription(&mut s.db(), code, p, h, &now_rfc3339())?;
    }
    Ok(())
}

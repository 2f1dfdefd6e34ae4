//! The account page (`/cuenta`): a signed-in person changes their own password — the same use
//! case as `POST /api/session/password` (`vamos_app::accounts::change_own_password`): the
//! current password is asked for, the new one passes the policy, every other session of the
//! account ends and this one goes on; audited. The form carries the session's CSRF token.

use super::Page;
use crate::auth::{self, Credential, SESSION_COOKIE};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use minijinja::context;
use serde::Deserialize;
use vamos_app::accounts::LoginPolicy;

/// `GET /cuenta`
pub async fn page(page: Page) -> Response {
    if page.user.is_none() {
        return page.error(&ApiError::unauthorized());
    }
    page.html("account.html", context! {})
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    actual: String,
    nueva: String,
    repetida: String,
}

/// `POST /cuenta`: the change; the form again, saying what happened.
pub async fn submit(
    State(st): State<AppState>,
    headers: HeaderMap,
    page: Page,
    Form(f): Form<PasswordForm>,
) -> Response {
    let Some(user) = page.user.clone() else {
        return page.error(&ApiError::unauthorized());
    };
    if user.csrf() != f.csrf || !matches!(user.credential, Credential::Session { .. }) {
        return page.error(&ApiError::forbidden(
            "el formulario venció o no es de esta sesión: vuelva a intentarlo",
        ));
    }
    let Some(cookie) = auth::cookie(&headers, SESSION_COOKIE) else {
        return page.error(&ApiError::unauthorized());
    };
    let refused = |status: StatusCode, message: String| {
        page.html_status(status, "account.html", context! { error => message })
    };
    if f.nueva != f.repetida {
        return refused(
            StatusCode::BAD_REQUEST,
            "la nueva contraseña y su repetición no coinciden".into(),
        );
    }
    // The same length bound as the sign-in form's.
    if f.actual.len() > 1024 || f.nueva.len() > 1024 {
        return refused(StatusCode::BAD_REQUEST, "contraseña demasiado larga".into());
    }
    let policy = LoginPolicy {
        lockout_threshold: st.settings.lockout_threshold,
        session_hours: st.settings.session_hours,
    };
    let username = user.user.username.clone();
    let r = user
        .act(&st, move |s, actor| {
            vamos_app::accounts::change_own_password(
                s, actor, &username, &cookie, &f.actual, &f.nueva, policy,
            )
        })
        .await;
    match r {
        Ok(ended) => page.html("account.html", context! { done => true, ended }),
        Err(e) if e.status.is_client_error() => refused(e.status, e.message),
        Err(e) => page.error(&e),
    }
}

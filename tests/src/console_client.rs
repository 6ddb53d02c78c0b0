//! A small blocking client of weijian's web console (`/`), for end-to-end tests that do not
//! need a browser: signs in through the form (its sign-in cookie and token, then the session
//! cookie) and fetches pages as a signed-in supervisor.

use std::time::Duration;

use anyhow::{bail, Context};

/// A signed-in console session on one running weijian.
#[derive(Debug, Clone)]
pub struct ConsoleClient {
    base: String,
    agent: ureq::Agent,
    /// `wj_session=<id>`.
    cookie: String,
}

/// The value of hidden field `name` in a page.
pub fn field(page: &str, name: &str) -> Option<String> {
    let key = format!("name=\"{name}\" value=\"");
    let at = page.find(&key)? + key.len();
    page[at..].split('"').next().map(str::to_owned)
}

fn cookie_of(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

impl ConsoleClient {
    /// Signs in at `base` (`http://host:port`) with a supervisor's API token.
    ///
    /// # Errors
    /// The console did not answer, or refused the token.
    pub fn sign_in(base: &str, token: &str) -> anyhow::Result<Self> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let mut form = agent.get(format!("{base}/signin")).call()?;
        let signin_cookie = cookie_of(&form, "wj_signin").context("no sign-in cookie")?;
        let page = form.body_mut().read_to_string()?;
        let form_token = field(&page, "form").context("no sign-in form token")?;
        let body = format!(
            "form={form_token}&next=%2Falerts&token={}",
            crate::api_client::encode_segment(token)
        );
        let answer = agent
            .post(format!("{base}/signin"))
            .header("Cookie", &signin_cookie)
            .content_type("application/x-www-form-urlencoded")
            .send(body.as_bytes())?;
        let Some(cookie) = cookie_of(&answer, "wj_session") else {
            bail!("sign-in refused: HTTP {}", answer.status());
        };
        Ok(Self {
            base: base.to_owned(),
            agent,
            cookie,
        })
    }

    /// `GET path` as the signed-in supervisor: the status and the page.
    ///
    /// # Errors
    /// The console did not answer.
    pub fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let mut r = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .call()?;
        let status = r.status().as_u16();
        Ok((status, r.body_mut().read_to_string()?))
    }

    /// `POST path` with a form body (`a=b&c=d`) as the signed-in supervisor.
    ///
    /// # Errors
    /// The console did not answer.
    pub fn post(&self, path: &str, form: &str) -> anyhow::Result<(u16, String)> {
        let mut r = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .content_type("application/x-www-form-urlencoded")
            .send(form.as_bytes())?;
        let status = r.status().as_u16();
        Ok((status, r.body_mut().read_to_string()?))
    }
}

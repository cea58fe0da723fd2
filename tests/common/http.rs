//! The HTTP side of the end-to-end world: the address the daemon's HTTP API listens on (as
//! `status` reports it), tokens made with the real CLI, and a real HTTP client.

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::Value;

use super::daemon::World;

/// The configuration lines that turn the HTTP API on, on a port the system picks.
pub const HTTP_ON: &str = "\n[http]\nlisten = \"127.0.0.1:0\"\n";

/// `http://ADDRESS` of the daemon's (first) HTTP listener, from `groupsms status`.
pub fn base(w: &World) -> String {
    let status = w.json(&["status"]);
    let address = status["http"][0]
        .as_str()
        .unwrap_or_else(|| panic!("the daemon reports no HTTP address: {status}"));
    format!("http://{address}")
}

/// A new token made with `groupsms token create` (`args`: `--member alice`, `--admin`...).
pub fn token(w: &World, args: &[&str]) -> String {
    let mut full = vec!["token", "create"];
    full.extend_from_slice(args);
    let made = w.json(&full);
    made["secret"]
        .as_str()
        .expect("the token's secret")
        .to_string()
}

/// A client and the base address.
pub struct Http {
    pub base: String,
    pub client: Client,
}

impl Http {
    pub fn new(w: &World) -> Http {
        Http {
            base: base(w),
            client: Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> RequestBuilder {
        with(self.client.get(format!("{}{path}", self.base)), token)
    }

    pub fn post(&self, path: &str, token: Option<&str>) -> RequestBuilder {
        with(self.client.post(format!("{}{path}", self.base)), token)
    }
}

fn with(r: RequestBuilder, token: Option<&str>) -> RequestBuilder {
    match token {
        Some(t) => r.bearer_auth(t),
        None => r,
    }
}

/// The status and the JSON body of `response`.
pub fn answer(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not JSON ({e}), status {status}: {text}"));
    (status, body)
}

//! `smtp://` / `smtps://` mailbox URLs, and the lettre transport each one describes.
//!
//! `smtp[s]://[USER[:PASS]@]HOST[:PORT][?starttls=true&allow_plaintext=true]`, user and password
//! percent-encoded. `smtps` is implicit TLS (RFC 8314 3.3, port 465); `smtp` with
//! `starttls=true` upgrades a plain connection (RFC 3207, port 587); plain `smtp` (port 25)
//! is allowed only to a loopback host unless `allow_plaintext=true`, so a typo cannot send a
//! password and customer mail in clear text across the internet.

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::Tls;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use percent_encoding::percent_decode_str;

use super::MailTls;

/// How long lettre waits for the connection and for each SMTP reply.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// TLS from the first byte (`smtps://`, port 465).
    Tls,
    /// Plain connection upgraded with STARTTLS, which is required (`?starttls=true`, port 587).
    StartTls,
    /// No encryption (`smtp://`, port 25): loopback only unless `allow_plaintext=true`.
    Plain,
}

/// A parsed SMTP URL. Holds a password: `Debug` prints the redacted form.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub security: SmtpSecurity,
    pub host: String,
    pub port: u16,
    /// `None` when the URL has no user: the server is used without AUTH.
    pub username: Option<String>,
    pub password: String,
    pub allow_plaintext: bool,
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.redacted())
    }
}

/// Why an SMTP URL was rejected; the message is meant for the person who typed it.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SmtpUrlError {
    #[error("not a URL: {0}")]
    Syntax(String),
    #[error("unsupported scheme {0:?}: use smtp:// or smtps://")]
    Scheme(String),
    #[error("the URL has no host")]
    NoHost,
    #[error("user name or password is not valid percent-encoded UTF-8")]
    Encoding,
    #[error(
        "plain SMTP to {0} would send the password and mail unencrypted: use smtps://, add ?starttls=true, or ?allow_plaintext=true"
    )]
    Plaintext(String),
}

impl SmtpUrl {
    /// Parses and validates an SMTP URL, including the plain-text rule.
    pub fn parse(input: &str) -> Result<Self, SmtpUrlError> {
        let u = url::Url::parse(input.trim()).map_err(|e| SmtpUrlError::Syntax(e.to_string()))?;
        let tls = match u.scheme() {
            "smtps" => true,
            "smtp" => false,
            other => return Err(SmtpUrlError::Scheme(other.to_string())),
        };
        let host = u
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(SmtpUrlError::NoHost)?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let decode = |s: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| SmtpUrlError::Encoding)
        };
        let username = Some(decode(u.username())?).filter(|s| !s.is_empty());
        let password = decode(u.password().unwrap_or(""))?;
        let flag = |name: &str| {
            u.query_pairs()
                .any(|(k, v)| k == name && matches!(&*v, "true" | "1" | "yes"))
        };
        let security = match (tls, flag("starttls")) {
            (true, _) => SmtpSecurity::Tls,
            (false, true) => SmtpSecurity::StartTls,
            (false, false) => SmtpSecurity::Plain,
        };
        let default_port = match security {
            SmtpSecurity::Tls => 465,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Plain => 25,
        };
        let url = SmtpUrl {
            security,
            port: u.port().unwrap_or(default_port),
            host,
            username,
            password,
            allow_plaintext: flag("allow_plaintext"),
        };
        if url.security == SmtpSecurity::Plain && !url.allow_plaintext && !url.is_loopback() {
            return Err(SmtpUrlError::Plaintext(url.host));
        }
        Ok(url)
    }

    /// True when the host is a loopback name or address.
    pub fn is_loopback(&self) -> bool {
        super::is_loopback_host(&self.host)
    }

    /// The URL without its password, for logs and error messages.
    pub fn redacted(&self) -> String {
        let scheme = if self.security == SmtpSecurity::Tls {
            "smtps"
        } else {
            "smtp"
        };
        let user = self
            .username
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        let tls = if self.security == SmtpSecurity::StartTls {
            "?starttls=true"
        } else {
            ""
        };
        format!("{scheme}://{user}{}:{}{tls}", self.host, self.port)
    }

    /// A lettre transport for this server (TLS certificates checked against `trust`: webpki
    /// roots plus `FRONTDESK_EXTRA_CA_FILE`; [`SMTP_TIMEOUT`]). It connects lazily, on the
    /// first send.
    pub fn transport(
        &self,
        trust: &MailTls,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
        let tls = match self.security {
            SmtpSecurity::Tls => Tls::Wrapper(trust.smtp_parameters(&self.host)?),
            SmtpSecurity::StartTls => Tls::Required(trust.smtp_parameters(&self.host)?),
            SmtpSecurity::Plain => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .tls(tls)
            .port(self.port)
            .timeout(Some(SMTP_TIMEOUT));
        if let Some(user) = &self.username {
            builder = builder.credentials(Credentials::new(user.clone(), self.password.clone()));
        }
        Ok(builder.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let u = SmtpUrl::parse("smtps://support%40example.com:p%40ss@mail.example.com").unwrap();
        assert_eq!(u.security, SmtpSecurity::Tls);
        assert_eq!(u.port, 465);
        assert_eq!(u.username.as_deref(), Some("support@example.com"));
        assert_eq!(u.password, "p@ss");
        assert!(
            !format!("{u:?}").contains("p@ss"),
            "password must not print"
        );

        let u = SmtpUrl::parse("smtp://a:b@mail.example.com?starttls=true").unwrap();
        assert_eq!((u.security, u.port), (SmtpSecurity::StartTls, 587));

        let u = SmtpUrl::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!((u.security, u.port), (SmtpSecurity::Plain, 2525));
        assert_eq!(u.username, None);

        let u = SmtpUrl::parse("smtp://localhost").unwrap();
        assert_eq!(u.port, 25);

        let u = SmtpUrl::parse("smtp://relay.internal:25?allow_plaintext=true").unwrap();
        assert!(u.allow_plaintext);
    }

    #[test]
    fn refuses_plain_smtp_to_a_remote_host() {
        assert_eq!(
            SmtpUrl::parse("smtp://u:p@mail.example.com"),
            Err(SmtpUrlError::Plaintext("mail.example.com".into()))
        );
    }

    #[test]
    fn rejects_malformed_urls_with_a_reason() {
        assert_eq!(
            SmtpUrl::parse("imap://a:b@h/"),
            Err(SmtpUrlError::Scheme("imap".into()))
        );
        assert!(matches!(
            SmtpUrl::parse("not a url"),
            Err(SmtpUrlError::Syntax(_))
        ));
        assert_eq!(
            SmtpUrl::parse("smtp://%FF@127.0.0.1"),
            Err(SmtpUrlError::Encoding)
        );
    }

    #[test]
    fn redacted_form_keeps_what_identifies_the_server() {
        let u = SmtpUrl::parse("smtp://me:secret@mail.example.com?starttls=true").unwrap();
        assert_eq!(u.redacted(), "smtp://me@mail.example.com:587?starttls=true");
    }
}

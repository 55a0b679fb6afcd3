//! A mailbox's IMAP and SMTP servers as form fields (host, port, security, user, password,
//! folders) and back to the stored `imap_url` / `smtp_url`, and URLs with their password
//! removed, which is the only form a page or the API ever shows.
//!
//! Passwords are write-only: [`ImapFields::from_url`] and [`SmtpFields::from_url`] leave the
//! password empty, and building a URL from fields with an empty password keeps the password
//! of the URL stored before (an edit that does not touch the password).

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::{ImapUrl, Security, SmtpSecurity, SmtpUrl, SmtpUrlError, UrlError};

/// The security choice of a form: `tls`, `starttls` or `none`.
pub fn security_name(s: Security) -> &'static str {
    match s {
        Security::Tls => "tls",
        Security::StartTls => "starttls",
        Security::Plain => "none",
    }
}

fn parse_security(s: &str) -> Option<Security> {
    match s.trim() {
        "tls" => Some(Security::Tls),
        "starttls" => Some(Security::StartTls),
        "none" => Some(Security::Plain),
        _ => None,
    }
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

fn host_part(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// A field the person must fix, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The form field (`imap_host`, `smtp_port`, ...).
    pub field: &'static str,
    pub message: String,
}

fn err(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// The IMAP server of a mailbox as the form shows it; `password` is empty when shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImapFields {
    pub host: String,
    /// Empty: the default of the security (993 for TLS, 143 otherwise).
    pub port: String,
    /// `tls`, `starttls` or `none`.
    pub security: String,
    pub user: String,
    /// Write-only: empty when shown; empty on submit keeps the stored one.
    pub password: String,
    /// Folders to poll, one per line or comma-separated, the first one first.
    pub folders: String,
    /// Kept from the stored URL (`allow_plaintext=true`); not a form field.
    pub allow_plaintext: bool,
}

impl ImapFields {
    /// The fields of a stored URL, without its password.
    pub fn from_url(u: &ImapUrl) -> ImapFields {
        ImapFields {
            host: u.host.clone(),
            port: u.port.to_string(),
            security: security_name(u.security).into(),
            user: u.username.clone(),
            password: String::new(),
            folders: u.folders.join("\n"),
            allow_plaintext: u.allow_plaintext,
        }
    }

    /// Builds and validates the URL. An empty password takes `stored`'s (the URL saved
    /// before, on edit); with nothing stored it is an error. Errors name the form field.
    pub fn to_url(&self, stored: Option<&ImapUrl>) -> Result<String, FieldError> {
        let host = self.host.trim();
        if host.is_empty() || host.contains(['/', '@', ' ', '?', '#']) {
            return Err(err("imap_host", "enter the IMAP server's host name"));
        }
        let security = parse_security(&self.security)
            .ok_or_else(|| err("imap_security", "choose TLS, STARTTLS or none"))?;
        let port: u16 = match self.port.trim() {
            "" if security == Security::Tls => 993,
            "" => 143,
            p => p
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| err("imap_port", "a port is a number from 1 to 65535"))?,
        };
        let user = self.user.trim();
        if user.is_empty() {
            return Err(err("imap_user", "enter the user name to sign in with"));
        }
        let password = if self.password.is_empty() {
            stored
                .map(|s| s.password.clone())
                .ok_or_else(|| err("imap_password", "enter the password of the IMAP account"))?
        } else {
            self.password.clone()
        };
        let folders: Vec<&str> = self
            .folders
            .split(['\n', ','])
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        let first = folders.first().copied().unwrap_or("INBOX");
        let scheme = if security == Security::Tls {
            "imaps"
        } else {
            "imap"
        };
        let mut query = Vec::new();
        if security == Security::StartTls {
            query.push("starttls=true".to_string());
        }
        for f in folders.iter().skip(1) {
            query.push(format!("folder={}", enc(f)));
        }
        if self.allow_plaintext {
            query.push("allow_plaintext=true".into());
        }
        let mut url = format!(
            "{scheme}://{}:{}@{}:{port}/{}",
            enc(user),
            enc(&password),
            host_part(host),
            enc(first)
        );
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        ImapUrl::parse(&url).map_err(|e| err("imap_host", e.to_string()))?;
        Ok(url)
    }
}

/// The SMTP server of a mailbox as the form shows it; all empty = no SMTP server (replies
/// cannot be sent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmtpFields {
    /// Empty: the mailbox has no SMTP server.
    pub host: String,
    /// Empty: the default of the security (465 TLS, 587 STARTTLS, 25 none).
    pub port: String,
    /// `tls`, `starttls` or `none`.
    pub security: String,
    /// Empty: the server is used without AUTH.
    pub user: String,
    /// Write-only, as for IMAP.
    pub password: String,
    /// Kept from the stored URL (`allow_plaintext=true`); not a form field.
    pub allow_plaintext: bool,
}

impl SmtpFields {
    /// The fields of a stored URL, without its password.
    pub fn from_url(u: &SmtpUrl) -> SmtpFields {
        SmtpFields {
            host: u.host.clone(),
            port: u.port.to_string(),
            security: match u.security {
                SmtpSecurity::Tls => "tls",
                SmtpSecurity::StartTls => "starttls",
                SmtpSecurity::Plain => "none",
            }
            .into(),
            user: u.username.clone().unwrap_or_default(),
            password: String::new(),
            allow_plaintext: u.allow_plaintext,
        }
    }

    /// Builds and validates the URL (`None` when the host is empty). An empty password keeps
    /// `stored`'s when the user is the same.
    pub fn to_url(&self, stored: Option<&SmtpUrl>) -> Result<Option<String>, FieldError> {
        let host = self.host.trim();
        if host.is_empty() {
            return Ok(None);
        }
        if host.contains(['/', '@', ' ', '?', '#']) {
            return Err(err("smtp_host", "enter the SMTP server's host name"));
        }
        let security = match self.security.trim() {
            "tls" => SmtpSecurity::Tls,
            "starttls" => SmtpSecurity::StartTls,
            "none" => SmtpSecurity::Plain,
            _ => return Err(err("smtp_security", "choose TLS, STARTTLS or none")),
        };
        let port: u16 = match self.port.trim() {
            "" => match security {
                SmtpSecurity::Tls => 465,
                SmtpSecurity::StartTls => 587,
                SmtpSecurity::Plain => 25,
            },
            p => p
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| err("smtp_port", "a port is a number from 1 to 65535"))?,
        };
        let user = self.user.trim();
        let userinfo = if user.is_empty() {
            String::new()
        } else {
            let password = if self.password.is_empty() {
                stored
                    .filter(|s| s.username.as_deref() == Some(user))
                    .map(|s| s.password.clone())
                    .unwrap_or_default()
            } else {
                self.password.clone()
            };
            format!("{}:{}@", enc(user), enc(&password))
        };
        let scheme = if security == SmtpSecurity::Tls {
            "smtps"
        } else {
            "smtp"
        };
        let mut query = Vec::new();
        if security == SmtpSecurity::StartTls {
            query.push("starttls=true");
        }
        if self.allow_plaintext {
            query.push("allow_plaintext=true");
        }
        let mut url = format!("{scheme}://{userinfo}{}:{port}", host_part(host));
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        SmtpUrl::parse(&url).map_err(|e| match e {
            SmtpUrlError::Plaintext(_) => err("smtp_security", e.to_string()),
            e => err("smtp_host", e.to_string()),
        })?;
        Ok(Some(url))
    }
}

/// The URL with its password removed (user, host, port, folders and options kept), as pages
/// and the API show it. A URL that does not parse shows as an empty string.
pub fn without_password(input: &str) -> String {
    match url::Url::parse(input.trim()) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => String::new(),
    }
}

/// An IMAP URL sent without a password (the redacted form the API returns, edited) takes the
/// password of `stored` when user and host are the same; anything else is returned as is.
pub fn keep_imap_password(input: &str, stored: &str) -> String {
    keep_password(input, stored)
}

/// As [`keep_imap_password`], for SMTP URLs.
pub fn keep_smtp_password(input: &str, stored: Option<&str>) -> String {
    match stored {
        Some(s) => keep_password(input, s),
        None => input.to_string(),
    }
}

fn keep_password(input: &str, stored: &str) -> String {
    let (Ok(mut new), Ok(old)) = (url::Url::parse(input.trim()), url::Url::parse(stored)) else {
        return input.to_string();
    };
    if new.password().is_some()
        || new.username().is_empty()
        || new.username() != old.username()
        || new.host_str() != old.host_str()
    {
        return input.to_string();
    }
    match old.password() {
        Some(p) if new.set_password(Some(p)).is_ok() => new.to_string(),
        _ => input.to_string(),
    }
}

/// Checks an IMAP URL as the admin console stores it: it parses, and plain IMAP goes only to
/// a loopback host unless the URL (`allow_plaintext=true`) or the node's configuration
/// (`allow_plaintext`) allows it.
pub fn check_imap_url(input: &str, allow_plaintext: bool) -> Result<ImapUrl, UrlError> {
    let u = ImapUrl::parse(input)?;
    if u.security == Security::Plain && !u.is_loopback() && !u.allow_plaintext && !allow_plaintext {
        return Err(UrlError::Syntax(format!(
            "unencrypted IMAP to {} would send the password in clear text; use imaps:// or ?starttls=true (or allow_plaintext=true)",
            u.host
        )));
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imap_fields_round_trip_through_the_url() {
        let u = ImapUrl::parse(
            "imap://support%40example.com:p%40ss@mail.example.com:1143/INBOX?starttls=true&folder=Spam%20box",
        )
        .unwrap();
        let f = ImapFields::from_url(&u);
        assert_eq!(f.password, "", "the password is never shown");
        assert_eq!(f.security, "starttls");
        assert_eq!(f.folders, "INBOX\nSpam box");
        // An empty password keeps the stored one.
        let again = ImapUrl::parse(&f.to_url(Some(&u)).unwrap()).unwrap();
        assert_eq!(again, u);
        // A new password replaces it.
        let f2 = ImapFields {
            password: "n:w/p@ss".into(),
            ..f.clone()
        };
        assert_eq!(
            ImapUrl::parse(&f2.to_url(Some(&u)).unwrap())
                .unwrap()
                .password,
            "n:w/p@ss"
        );
        // Nothing stored and no password: the password field is named.
        assert_eq!(f.to_url(None).unwrap_err().field, "imap_password");
        let bad = ImapFields {
            port: "x".into(),
            ..f2
        };
        assert_eq!(bad.to_url(None).unwrap_err().field, "imap_port");
    }

    #[test]
    fn smtp_fields_round_trip_and_empty_host_means_none() {
        let u = SmtpUrl::parse("smtps://me:s%3Acret@mail.example.com").unwrap();
        let f = SmtpFields::from_url(&u);
        assert_eq!((f.port.as_str(), f.password.as_str()), ("465", ""));
        let again = SmtpUrl::parse(&f.to_url(Some(&u)).unwrap().unwrap()).unwrap();
        assert_eq!(again, u);
        assert_eq!(SmtpFields::default().to_url(None).unwrap(), None);
        let plain = SmtpFields {
            security: "none".into(),
            ..f
        };
        assert_eq!(plain.to_url(None).unwrap_err().field, "smtp_security");
    }

    #[test]
    fn urls_are_shown_without_their_password_and_kept_on_edit() {
        let stored = "imaps://me:s3cret@mail.example.com/INBOX?folder=Spam";
        let shown = without_password(stored);
        assert_eq!(shown, "imaps://me@mail.example.com/INBOX?folder=Spam");
        assert_eq!(keep_imap_password(&shown, stored), stored);
        let other = "imaps://you@mail.example.com/INBOX";
        assert_eq!(keep_imap_password(other, stored), other);
    }
}

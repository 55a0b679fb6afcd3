//! Which certificate authorities the TLS connections to mail servers trust, for IMAP (the
//! poller, Test connection) and SMTP (the outbox) alike: the Mozilla roots of `webpki-roots`,
//! plus the PEM bundle named by `FRONTDESK_EXTRA_CA_FILE` (a company CA, a test CA).
//!
//! Certificates are always verified (issuer, validity, host name); there is no switch to turn
//! that off. A refused certificate reads as "the TLS certificate of HOST:PORT is not trusted:
//! ..." with rustls' reason (`UnknownIssuer`, `Expired`, `NotValidForName`...).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lettre::transport::smtp::client::{Certificate, TlsParameters};
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// The roots mail servers' certificates are checked against. Cheap to clone (shared).
/// `Default` trusts the webpki roots only.
#[derive(Clone)]
pub struct MailTls {
    /// Certificates from `FRONTDESK_EXTRA_CA_FILE` (DER), added to the webpki roots.
    extra: Arc<Vec<CertificateDer<'static>>>,
    /// Where `extra` came from, for messages.
    source: Option<PathBuf>,
    /// The rustls client configuration of IMAP connections, built once.
    imap: Arc<ClientConfig>,
}

impl Default for MailTls {
    fn default() -> Self {
        MailTls::with_extra(Vec::new(), None).expect("the webpki roots are valid trust anchors")
    }
}

impl std::fmt::Debug for MailTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailTls")
            .field("extra_ca_file", &self.source)
            .field("extra_cas", &self.extra.len())
            .finish()
    }
}

impl MailTls {
    /// The webpki roots plus every certificate of the PEM file at `path` (other PEM sections,
    /// such as keys, are ignored). Errors (for people) when the file cannot be read, holds no
    /// certificate, or holds one that cannot be a trust anchor.
    pub fn from_pem_file(path: &Path) -> Result<MailTls, String> {
        let pem =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{} is not a PEM bundle: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ));
        }
        MailTls::with_extra(certs, Some(path.to_path_buf()))
    }

    fn with_extra(
        extra: Vec<CertificateDer<'static>>,
        source: Option<PathBuf>,
    ) -> Result<MailTls, String> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for (i, cert) in extra.iter().enumerate() {
            roots.add(cert.clone()).map_err(|e| {
                let file = source.as_deref().unwrap_or(Path::new("?")).display();
                format!(
                    "certificate {} of {file} cannot be a trust anchor: {e}",
                    i + 1
                )
            })?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let imap = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(MailTls {
            extra: Arc::new(extra),
            source,
            imap: Arc::new(imap),
        })
    }

    /// How many certificates `FRONTDESK_EXTRA_CA_FILE` added (0 by default).
    pub fn extra_count(&self) -> usize {
        self.extra.len()
    }

    /// The rustls client configuration for IMAP over TLS (implicit or STARTTLS).
    pub fn client_config(&self) -> Arc<ClientConfig> {
        self.imap.clone()
    }

    /// lettre's TLS parameters for an SMTP server named `host` (implicit TLS or STARTTLS):
    /// webpki roots plus the extra CAs, checked like IMAP.
    pub fn smtp_parameters(
        &self,
        host: &str,
    ) -> Result<TlsParameters, lettre::transport::smtp::Error> {
        let mut builder = TlsParameters::builder(host.to_string());
        for cert in self.extra.iter() {
            builder = builder.add_root_certificate(Certificate::from_der(cert.to_vec())?);
        }
        builder.build_rustls()
    }
}

/// When `error` (or an error it wraps, also inside `std::io::Error`) is a refused certificate:
/// a sentence naming `server` and rustls' reason, with a hint for a server whose CA is unknown.
pub fn certificate_problem(
    error: &(dyn std::error::Error + 'static),
    server: &str,
) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(rustls::Error::InvalidCertificate(reason)) = e.downcast_ref::<rustls::Error>() {
            return Some(describe(reason, server));
        }
        // io::Error::source() skips the error it wraps; look at that one too.
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && let Some(found) = certificate_problem(inner, server)
        {
            return Some(found);
        }
        current = e.source();
    }
    None
}

fn describe(reason: &rustls::CertificateError, server: &str) -> String {
    let hint = match reason {
        rustls::CertificateError::UnknownIssuer => {
            " (it is not signed by a certificate authority Frontdesk trusts; for a private CA, \
             add its certificate to FRONTDESK_EXTRA_CA_FILE)"
        }
        _ => "",
    };
    format!(
        "the TLS certificate of {server} is not trusted: invalid peer certificate: {reason}{hint}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_issuer_is_named_with_the_setting_that_fixes_it() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let wrapped = anyhow::Error::new(io).context("TLS handshake");
        let text = certificate_problem(wrapped.as_ref(), "mail.example.com:993").unwrap();
        assert!(
            text.starts_with(
                "the TLS certificate of mail.example.com:993 is not trusted: invalid peer certificate: UnknownIssuer"
            ),
            "{text}"
        );
        assert!(text.contains("FRONTDESK_EXTRA_CA_FILE"), "{text}");

        let other = std::io::Error::other("connection reset");
        assert_eq!(certificate_problem(&other, "x:1"), None);
    }

    #[test]
    fn a_file_without_certificates_is_refused_with_its_name() {
        let dir = std::env::temp_dir().join(format!("frontdesk-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = MailTls::from_pem_file(&empty).unwrap_err();
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let missing = MailTls::from_pem_file(&dir.join("missing.pem")).unwrap_err();
        assert!(missing.starts_with("cannot read"), "{missing}");
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(MailTls::default().extra_count(), 0);
    }
}

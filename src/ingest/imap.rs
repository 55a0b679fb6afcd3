//! IMAP connections (async-imap over tokio): implicit TLS, STARTTLS or plain.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::mailboxes::tls::certificate_problem;
use crate::mailboxes::{ImapUrl, MailTls, Security};

/// The byte stream under an IMAP session.
#[derive(Debug)]
pub enum ImapStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// A logged-in IMAP session.
pub type ImapSession = async_imap::Session<ImapStream>;

impl AsyncRead for ImapStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ImapStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

async fn tls(url: &ImapUrl, tcp: TcpStream, trust: &MailTls) -> anyhow::Result<ImapStream> {
    let name = ServerName::try_from(url.host.clone()).context("invalid TLS server name")?;
    let server = format!("{}:{}", url.host, url.port);
    match TlsConnector::from(trust.client_config())
        .connect(name, tcp)
        .await
    {
        Ok(stream) => Ok(ImapStream::Tls(Box::new(stream))),
        Err(e) => match certificate_problem(&e, &server) {
            Some(problem) => bail!("{problem}"),
            None => Err(e).with_context(|| format!("TLS handshake with {server}")),
        },
    }
}

/// Connects and logs in. Refuses a plain connection to a non-loopback host unless allowed by
/// the URL (`allow_plaintext=true`) or `FRONTDESK_IMAP_ALLOW_PLAINTEXT`. TLS certificates are
/// checked against `trust` (webpki roots plus `FRONTDESK_EXTRA_CA_FILE`); a refused one errors
/// with "the TLS certificate of HOST:PORT is not trusted: ...".
pub async fn connect(
    url: &ImapUrl,
    allow_plaintext: bool,
    trust: &MailTls,
) -> anyhow::Result<ImapSession> {
    if url.security == Security::Plain
        && !url.is_loopback()
        && !url.allow_plaintext
        && !allow_plaintext
    {
        bail!(
            "refusing unencrypted IMAP to {} (use imaps://, ?starttls=true, or allow_plaintext=true)",
            url.host
        );
    }
    let tcp = tokio::time::timeout(
        Duration::from_secs(20),
        TcpStream::connect((url.host.as_str(), url.port)),
    )
    .await
    .with_context(|| format!("connecting to {}:{} timed out", url.host, url.port))?
    .with_context(|| format!("connecting to {}:{}", url.host, url.port))?;
    tcp.set_nodelay(true)?;
    let stream = match url.security {
        Security::Tls => tls(url, tcp, trust).await?,
        Security::Plain => ImapStream::Plain(tcp),
        Security::StartTls => {
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client).await?;
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .context("STARTTLS")?;
            let tcp = client.into_inner();
            let stream = tls(url, tcp, trust).await?;
            return login(async_imap::Client::new(stream), url).await;
        }
    };
    let mut client = async_imap::Client::new(stream);
    greeting(&mut client).await?;
    login(client, url).await
}

async fn greeting<T>(client: &mut async_imap::Client<T>) -> anyhow::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    match tokio::time::timeout(Duration::from_secs(20), client.read_response()).await {
        Ok(Ok(Some(_))) => Ok(()),
        Ok(Ok(None)) => bail!("the IMAP server closed the connection before its greeting"),
        Ok(Err(e)) => Err(e).context("reading the IMAP greeting"),
        Err(_) => bail!("no IMAP greeting within 20 s"),
    }
}

async fn login(
    client: async_imap::Client<ImapStream>,
    url: &ImapUrl,
) -> anyhow::Result<ImapSession> {
    client
        .login(&url.username, &url.password)
        .await
        .map_err(|(e, _)| {
            anyhow::anyhow!(
                "IMAP login as {} failed: {}",
                url.username,
                server_answer(&e)
            )
        })
}

/// A NO or BAD answer as the server wrote it ("NO [AUTHENTICATIONFAILED] Authentication
/// failed."); async-imap hands it over inside its own debug text (`code: .., info: Some("..")`).
/// Other errors as they display.
fn server_answer(e: &async_imap::error::Error) -> String {
    let (word, text) = match e {
        async_imap::error::Error::No(t) => ("NO", t),
        async_imap::error::Error::Bad(t) => ("BAD", t),
        other => return other.to_string(),
    };
    let info = text
        .split_once("info: Some(\"")
        .and_then(|(_, rest)| rest.rsplit_once("\")"))
        .map(|(info, _)| info.replace("\\\"", "\""));
    match info {
        Some(info) => format!("the server answered {word} {info}"),
        None => format!("the server answered {word} ({text})"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_refused_login_reads_as_the_server_wrote_it() {
        let e = async_imap::error::Error::No(
            r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#.into(),
        );
        assert_eq!(
            super::server_answer(&e),
            "the server answered NO [AUTHENTICATIONFAILED] Authentication failed."
        );
        let odd = async_imap::error::Error::Bad("outcome: Bad".into());
        assert_eq!(
            super::server_answer(&odd),
            "the server answered BAD (outcome: Bad)"
        );
    }
}

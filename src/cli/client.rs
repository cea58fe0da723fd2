//! The CLI's side of the socket protocol: connect, say hello, send requests, read answers.
//! Blocking std I/O: a CLI call is one short conversation.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::exit::Class;
use super::Failure;
use crate::lockfile::{self, Holder};
use crate::protocol::{
    ErrorBody, Hello, Paged, Request, RequestLine, Response, MAX_LINE, PROTOCOL_VERSION,
};

/// An open, greeted connection to the daemon.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
    path: PathBuf,
}

impl Client {
    /// Connects and exchanges `hello`; a clear failure when the daemon is not there.
    pub fn connect(path: &Path) -> Result<Client, Failure> {
        Client::connect_to(path, None)
    }

    /// [`connect`](Client::connect) to the daemon of `database`: when nothing answers at
    /// `path`, its lock file tells "no daemon" from "a daemon runs but its socket is gone".
    pub fn connect_to(path: &Path, database: Option<&Path>) -> Result<Client, Failure> {
        let stream = UnixStream::connect(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                Failure::of(
                    Class::Permission,
                    format!(
                        "permission denied on {}: add yourself to group groupsms (sudo adduser \
                         $USER groupsms, then log in again)",
                        path.display()
                    ),
                )
            } else {
                Failure::of(Class::Unavailable, unreachable(path, &e, database))
            }
        })?;
        let writer = stream.try_clone().map_err(|e| down(path, e))?;
        let mut client = Client {
            reader: BufReader::new(stream),
            writer,
            next_id: 1,
            path: path.into(),
        };
        client.call(Request::Hello(Hello {
            version: PROTOCOL_VERSION,
        }))?;
        Ok(client)
    }

    /// Sends `request` and returns its result, or the daemon's error as a failure.
    pub fn call(&mut self, request: Request) -> Result<Value, Failure> {
        let id = self.send(request)?;
        loop {
            let r = self.read()?;
            // An error with id 0 is about the connection (turned away, timed out, a line the
            // daemon could not read): it answers whatever was asked.
            let about_connection = r.id == 0 && r.error.is_some();
            if (r.id != id && !about_connection) || r.event.is_some() {
                continue;
            }
            return answer(r);
        }
    }

    /// Like [`call`](Self::call), the result read as the op's answer type (`protocol`).
    pub fn call_as<T: DeserializeOwned>(&mut self, request: Request) -> Result<T, Failure> {
        let result = self.call(request)?;
        typed(result)
    }

    /// Every page of a paged answer as one: asks `request(after)` with `None`, then with each
    /// answer's `next` until there is none, and appends the pages to the first.
    pub fn call_all<T: DeserializeOwned + Paged>(
        &mut self,
        request: impl Fn(Option<T::Cursor>) -> Request,
    ) -> Result<T, Failure> {
        self.call_pages(request, |_| false)
    }

    /// Like [`call_all`](Self::call_all), stopping early once `enough` says so of the pages
    /// gathered.
    pub fn call_pages<T: DeserializeOwned + Paged>(
        &mut self,
        request: impl Fn(Option<T::Cursor>) -> Request,
        enough: impl Fn(&T) -> bool,
    ) -> Result<T, Failure> {
        let mut all: T = self.call_as(request(None))?;
        while let Some(after) = all.next().cloned() {
            if enough(&all) {
                break;
            }
            let page: T = self.call_as(request(Some(after)))?;
            all.append(page);
        }
        Ok(all)
    }

    /// Sends a request and returns its id, for streamed answers (`subscribe`).
    pub fn send(&mut self, request: Request) -> Result<u64, Failure> {
        let id = self.next_id;
        self.next_id += 1;
        let mut line =
            serde_json::to_string(&RequestLine { id, request }).expect("requests serialize");
        if line.len() > MAX_LINE {
            return Err(Failure::bad_input(format!(
                "request is {} bytes, the daemon takes at most {MAX_LINE}",
                line.len()
            )));
        }
        line.push('\n');
        if let Err(e) = self.writer.write_all(line.as_bytes()) {
            // The daemon may have said why before it closed (turned away, timed out).
            return Err(match self.read() {
                Ok(r) if r.id == 0 && r.error.is_some() => match answer(r) {
                    Err(said) => said,
                    Ok(_) => down(&self.path, e),
                },
                _ => down(&self.path, e),
            });
        }
        Ok(id)
    }

    /// Another connection to the same daemon (for a stream read apart from this one).
    pub fn reconnect(&self) -> Result<Client, Failure> {
        Client::connect(&self.path)
    }

    /// Like [`read`](Self::read), waiting at most until `deadline`: `None` when it passed
    /// first. A line may then have been read in part, so the connection is only good for
    /// closing (give such reads a connection of their own: [`reconnect`](Self::reconnect)).
    pub fn read_before(&mut self, deadline: Instant) -> Result<Option<Response>, Failure> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        self.reader
            .get_ref()
            .set_read_timeout(Some(left))
            .map_err(|e| down(&self.path, e))?;
        let mut line = String::new();
        let read = self.reader.read_line(&mut line);
        // The timeout is the socket's, shared with the writer's clone: take it off again.
        let _ = self.reader.get_ref().set_read_timeout(None);
        match read {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(None),
            read => self.answer_line(read, &line).map(Some),
        }
    }

    /// Reads the next answer line.
    pub fn read(&mut self) -> Result<Response, Failure> {
        let mut line = String::new();
        let read = self.reader.read_line(&mut line);
        self.answer_line(read, &line)
    }

    /// What [`read`](Self::read) makes of one `read_line`.
    fn answer_line(&self, read: std::io::Result<usize>, line: &str) -> Result<Response, Failure> {
        let n = read.map_err(|e| down(&self.path, e))?;
        if n == 0 {
            return Err(Failure::of(
                Class::Unavailable,
                format!(
                    "the daemon at {} closed the connection",
                    self.path.display()
                ),
            ));
        }
        serde_json::from_str(line).map_err(|e| {
            Failure::of(
                Class::Unavailable,
                format!("unreadable answer from the daemon: {e}"),
            )
        })
    }
}

/// A result as the op's answer type; a daemon whose answer does not fit is a bug to report.
pub fn typed<T: DeserializeOwned>(result: Value) -> Result<T, Failure> {
    serde_json::from_value(result).map_err(|e| {
        Failure::of(
            Class::Unavailable,
            format!("unexpected answer from the daemon: {e}"),
        )
    })
}

/// Why nothing answers at `path`, as far as the CLI can tell.
fn unreachable(path: &Path, e: &std::io::Error, database: Option<&Path>) -> String {
    let at = path.display();
    match database.map(|db| (db, lockfile::holder(db))) {
        Some((db, Holder::Daemon(pid))) => format!(
            "no daemon answers at {at} ({e}), but a groupsms daemon{} holds the database {}: \
             it is starting or stopping, or its socket file was removed (restart it to get the \
             socket back: `systemctl restart groupsms`), or it listens elsewhere (--socket)",
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
            db.display()
        ),
        Some((db, Holder::Unknown(le))) => format!(
            "daemon not reachable at {at} ({e}); whether a daemon holds the database {} is \
             unknown ({le}); if none runs, start it with `groupsms daemon`",
            db.display()
        ),
        _ => format!("daemon not running at {at} ({e}); start it with `groupsms daemon`"),
    }
}

fn down(path: &Path, e: std::io::Error) -> Failure {
    Failure::of(
        Class::Unavailable,
        format!("lost the daemon at {}: {e}", path.display()),
    )
}

/// A final answer as a result or a failure with the exit status its code calls for.
pub fn answer(r: Response) -> Result<Value, Failure> {
    match (r.ok, r.result, r.error) {
        (Some(true), result, _) => Ok(result.unwrap_or(Value::Null)),
        (_, _, Some(ErrorBody { code, message, .. })) => Err(Failure::daemon(code, message)),
        _ => Err(Failure::of(
            Class::Unavailable,
            "the daemon sent an answer with neither result nor error",
        )),
    }
}

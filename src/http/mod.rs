//! The HTTP/1.x client used to talk to servers under test: exact request
//! bytes out, strictly parsed responses in, over TCP, unix sockets or TLS.

mod client;
mod request;
mod response;
mod stream;
pub mod tls;

pub use client::{
    parse_url, parse_url_with, round_trip, round_trip_capped, Connection, HttpError, Phase, Target,
    TargetError, Timeouts, DEFAULT_BODY_LIMIT,
};
pub use request::{
    check_header, latin1_bytes, latin1_string, HeaderError, NotLatin1, RequestBody, RequestParts,
};
pub use response::{head_arrived, parse_final_head, FinalHead, Framing, Interim, Response};

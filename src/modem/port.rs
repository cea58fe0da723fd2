//! Opening a real serial port: the only file that names `tokio_serial`.
//!
//! The port is opened exclusively: `TIOCEXCL` (no other open(2) of the tty succeeds, except
//! by root) plus an exclusive `flock` (which also stops root tools that lock, such as other
//! instances of this program), so nothing interleaves its own AT commands with ours. 8N1,
//! raw mode, no flow control unless asked for.

use tokio_serial::{ClearBuffer, FlowControl, SerialPort as _, SerialPortBuilderExt};

use super::error::ModemError;

/// An open serial port: `AsyncRead + AsyncWrite + Unpin`.
pub type Port = tokio_serial::SerialStream;

/// The speed ports are opened at unless configured otherwise (USB sticks ignore it).
pub const DEFAULT_BAUD: u32 = 115_200;

/// How to open a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortOptions {
    pub baud: u32,
    /// RTS/CTS hardware flow control (off by default: most USB sticks ignore it).
    pub hardware_flow_control: bool,
}

impl Default for PortOptions {
    fn default() -> Self {
        PortOptions {
            baud: DEFAULT_BAUD,
            hardware_flow_control: false,
        }
    }
}

/// Opens `path` at `baud`, exclusively, without flow control.
pub fn open(path: &str, baud: u32) -> Result<Port, ModemError> {
    open_with(
        path,
        PortOptions {
            baud,
            ..PortOptions::default()
        },
    )
}

/// Opens `path` with `options`, exclusively. Input already buffered by the kernel is dropped.
pub fn open_with(path: &str, options: PortOptions) -> Result<Port, ModemError> {
    let fail = |reason: String| ModemError::Open {
        path: path.to_string(),
        reason,
    };
    if options.baud == 0 {
        return Err(fail("the baud rate must not be 0".into()));
    }
    if !std::path::Path::new(path).exists() {
        return Err(fail("no such device".into()));
    }
    let flow = if options.hardware_flow_control {
        FlowControl::Hardware
    } else {
        FlowControl::None
    };
    let builder = tokio_serial::new(path, options.baud)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::None)
        .stop_bits(tokio_serial::StopBits::One)
        .flow_control(flow)
        .exclusive(true);
    let mut port = builder.open_native_async().map_err(|e| {
        let reason = match e.kind() {
            tokio_serial::ErrorKind::NoDevice => {
                format!("{e} (busy or missing: is another program, e.g. ModemManager, using it?)")
            }
            _ => e.to_string(),
        };
        fail(reason)
    })?;
    port.set_exclusive(true)
        .map_err(|e| fail(format!("cannot get exclusive access: {e}")))?;
    port.clear(ClearBuffer::Input)
        .map_err(|e| fail(format!("cannot flush input: {e}")))?;
    Ok(port)
}

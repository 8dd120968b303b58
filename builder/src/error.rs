//! The builder's errors: what failed, on what, in words.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug)]
pub enum Error {
    /// An I/O step failed: `doing` says which ("reading /tmp/x.iso").
    Io { doing: String, source: std::io::Error },
    /// The command line asks for something impossible.
    Usage(String),
    /// The image or disk is not what the command needs.
    Disk { path: PathBuf, problem: String },
    /// `check` found files that will not boot.
    NotBootable { failing: usize, checked: usize },
    /// `config check` found problems in the configuration file.
    Config { problems: usize, what: String },
}

impl Error {
    pub fn io(doing: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let doing = doing.into();
        move |source| Error::Io { doing, source }
    }

    pub fn disk(path: impl Into<PathBuf>, problem: impl fmt::Display) -> Error {
        Error::Disk { path: path.into(), problem: problem.to_string() }
    }

    /// Exit status for scripts: 1 I/O, 2 usage, 3 the disk or image,
    /// 4 `check` found files that will not boot, 5 `config check` found
    /// problems.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Io { .. } => 1,
            Error::Usage(_) => 2,
            Error::Disk { .. } => 3,
            Error::NotBootable { .. } => 4,
            Error::Config { .. } => 5,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { doing, source } => write!(f, "{doing}: {source}"),
            Error::Usage(what) => write!(f, "{what}"),
            Error::Disk { path, problem } => write!(f, "{}: {problem}", path.display()),
            Error::NotBootable { failing, checked } => write!(f, "{failing} of {checked} boot files will not boot"),
            Error::Config { problems: 1, what } => write!(f, "{what}: 1 problem"),
            Error::Config { problems, what } => write!(f, "{what}: {problems} problems"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

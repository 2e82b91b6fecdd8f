//! What `scanpay sim` checks before it writes or listens: the keys folder holds only files it
//! created itself (recorded in [`MANIFEST`]), and the listening address is loopback unless the
//! operator says `--public`.

use std::net::SocketAddr;
use std::path::Path;

use super::SimError;

/// The file in the keys folder that records what `scanpay sim` created there.
pub const MANIFEST: &str = ".scanpay-sim";

/// What `scanpay sim` keeps in its keys folder: the keys and the client configuration it
/// writes, and the data folder of that configuration (made by a till using it, never touched
/// by the simulator).
pub const OWN_FILES: &[&str] = &[
    "apiclient_key.pem",
    "apiv3_key.txt",
    "sim_platform_key.pem",
    "pub_key.pem",
    "scanpay.toml",
    "scanpay-data",
    // `--api v2`: the APIv2 key, the simulator's CA (certificate and key) and the merchant's
    // client certificate.
    "apiv2_key.txt",
    "sim_ca.pem",
    "sim_ca_key.pem",
    "apiclient_cert.pem",
];

/// How a keys folder was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeysFolder {
    /// Missing or empty: claimed now (the manifest was written).
    New,
    /// Already the simulator's own (it has the manifest, and nothing else than it lists).
    Own,
}

/// Makes sure `dir` is the simulator's own folder before anything is written to it: a missing
/// or empty folder is claimed (created 0700, [`MANIFEST`] written); a folder with the manifest
/// may hold only what it lists; anything else is refused, naming the files, and nothing in it
/// is changed.
pub fn claim_keys_folder(dir: &Path) -> Result<KeysFolder, SimError> {
    let io = |source| SimError::Io {
        path: dir.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a folder",
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::store::create_private_dir(dir).map_err(io)?;
        }
        Err(e) => return Err(io(e)),
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    names.sort();
    let manifest = dir.join(MANIFEST);
    if names.iter().any(|n| n == MANIFEST) {
        let text = std::fs::read_to_string(&manifest).map_err(|source| SimError::Io {
            path: manifest.clone(),
            source,
        })?;
        let listed: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let foreign: Vec<String> = names
            .into_iter()
            .filter(|n| n != MANIFEST && !listed.contains(&n.as_str()))
            .collect();
        if !foreign.is_empty() {
            return Err(SimError::ForeignFiles {
                dir: dir.to_path_buf(),
                files: foreign,
            });
        }
        return Ok(KeysFolder::Own);
    }
    if !names.is_empty() {
        return Err(SimError::ForeignFiles {
            dir: dir.to_path_buf(),
            files: names,
        });
    }
    write_manifest(&manifest).map_err(|source| SimError::Io {
        path: manifest,
        source,
    })?;
    Ok(KeysFolder::New)
}

fn write_manifest(path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let mut text = String::from(
        "# Written by `scanpay sim`: the files it keeps in this folder. It refuses a folder\n\
         # holding anything else, so it never overwrites or edits files it did not create.\n",
    );
    for name in OWN_FILES {
        text.push_str(name);
        text.push('\n');
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Where `scanpay sim` may listen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenAt {
    /// The addresses `--listen` resolved to (bind to these, not to the name again).
    pub addrs: Vec<SocketAddr>,
    /// Those that are not loopback (allowed only with `--public`; then warn).
    pub public: Vec<SocketAddr>,
}

/// Whether an address is loopback: 127.0.0.0/8, ::1, or an IPv4-mapped loopback.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().to_canonical().is_loopback()
}

/// Resolves `--listen` and checks it: every address it names must be loopback, unless
/// `public` (the operator's `--public`).
pub async fn check_listen(listen: &str, public: bool) -> Result<ListenAt, SimError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(listen)
        .await
        .map_err(|source| SimError::Listen {
            addr: listen.to_string(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(SimError::Listen {
            addr: listen.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
        });
    }
    let wide: Vec<SocketAddr> = addrs.iter().filter(|a| !is_loopback(a)).copied().collect();
    if !wide.is_empty() && !public {
        return Err(SimError::PublicListen {
            listen: listen.to_string(),
            addrs: wide,
        });
    }
    Ok(ListenAt {
        addrs,
        public: wide,
    })
}

/// The names in a [`SimError::ForeignFiles`] list, for messages.
pub(super) fn list(files: &[String]) -> String {
    files.join(", ")
}

/// The addresses in a [`SimError::PublicListen`], for messages.
pub(super) fn list_addrs(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(|a| a.ip().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn loopback_addresses_pass_and_others_need_public() {
        for ok in [
            "127.0.0.1:0",
            "127.8.9.10:0",
            "[::1]:0",
            "[::ffff:127.0.0.1]:0",
        ] {
            let at = run(check_listen(ok, false)).unwrap();
            assert!(at.public.is_empty(), "{ok}");
        }
        for wide in ["0.0.0.0:0", "[::]:0", "10.1.2.3:0", "[::ffff:10.0.0.1]:0"] {
            let err = run(check_listen(wide, false)).unwrap_err();
            assert!(matches!(err, SimError::PublicListen { .. }), "{wide}");
            assert!(err.to_string().contains("--public"), "{err}");
            let at = run(check_listen(wide, true)).unwrap();
            assert_eq!(at.public.len(), 1, "{wide}");
        }
    }

    #[test]
    fn a_folder_is_claimed_once_and_then_only_its_own() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("k");
        assert_eq!(claim_keys_folder(&dir).unwrap(), KeysFolder::New);
        std::fs::write(dir.join("pub_key.pem"), "x").unwrap();
        std::fs::create_dir(dir.join("scanpay-data")).unwrap();
        assert_eq!(claim_keys_folder(&dir).unwrap(), KeysFolder::Own);
        std::fs::write(dir.join("notes.txt"), "x").unwrap();
        let err = claim_keys_folder(&dir).unwrap_err();
        assert!(err.to_string().contains("notes.txt"), "{err}");
        let other = tmp.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("scanpay.toml"), "x").unwrap();
        let err = claim_keys_folder(&other).unwrap_err();
        assert!(err.to_string().contains("scanpay.toml"), "{err}");
        assert!(!other.join(MANIFEST).exists());
    }
}

//! Whom a session's process runs as, and how it is launched: as root the agent
//! runs it as the offer's run-as user (which must exist on the node), with that
//! user's shell, home and ids; otherwise as the agent's own user, and says so.

use std::path::{Path, PathBuf};

use bosun_protocol::session::SessionOffer;
use nix::unistd::{Uid, User};

/// The PATH of session processes.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A process to start in the session's PTY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// The uid and gid to switch to (when the agent is root).
    pub ids: Option<(u32, u32)>,
    /// The user it runs as.
    pub user: String,
    /// A line to show first (e.g. that the agent could not switch user).
    pub notice: Option<String>,
}

/// The launch of `command` (None: an interactive login shell) for an offer.
pub fn prepare(offer: &SessionOffer, command: Option<&str>) -> Result<Launch, String> {
    let euid = Uid::effective();
    let (user, notice) = if euid.is_root() {
        match User::from_name(&offer.run_as) {
            Ok(Some(user)) => (user, None),
            Ok(None) => {
                return Err(format!(
                    "the run-as user {:?} does not exist on this node: create it, or change runAs (`bosun session preferences set --run-as USER`)",
                    offer.run_as
                ));
            }
            Err(e) => return Err(format!("cannot look up the run-as user {:?}: {e}", offer.run_as)),
        }
    } else {
        let user = User::from_uid(euid).ok().flatten().ok_or_else(|| format!("the agent's user (uid {euid}) has no passwd entry"))?;
        let notice = format!("bosun: the agent does not run as root, so this session runs as {} (not {})\r\n", user.name, offer.run_as);
        (user, Some(notice))
    };
    let shell = if user.shell.is_absolute() && user.shell.is_file() && !user.shell.ends_with("nologin") && !user.shell.ends_with("false") {
        user.shell.clone()
    } else {
        PathBuf::from("/bin/sh")
    };
    let args = match command {
        Some(command) => vec!["-c".to_string(), command.to_string()],
        None => vec!["-l".to_string()],
    };
    let cwd = if Path::new(&user.dir).is_dir() { user.dir.clone() } else { PathBuf::from("/") };
    let env = vec![
        ("TERM".to_string(), "xterm-256color".to_string()),
        ("HOME".to_string(), cwd.display().to_string()),
        ("USER".to_string(), user.name.clone()),
        ("LOGNAME".to_string(), user.name.clone()),
        ("SHELL".to_string(), shell.display().to_string()),
        ("PATH".to_string(), PATH.to_string()),
        ("BOSUN_SESSION_ID".to_string(), offer.session_id.clone()),
    ];
    let ids = euid.is_root().then(|| (user.uid.as_raw(), user.gid.as_raw()));
    Ok(Launch { program: shell, args, env, cwd, ids, user: user.name, notice })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_protocol::session::SessionKind;

    fn offer(run_as: &str) -> SessionOffer {
        SessionOffer {
            session_id: "s-1".into(),
            kind: SessionKind::Shell,
            run_as: run_as.into(),
            shell_profile: String::new(),
            rows: 24,
            cols: 80,
        }
    }

    #[test]
    fn a_missing_run_as_user_is_refused_as_root_and_ignored_otherwise() {
        let result = prepare(&offer("no-such-user-here-42"), None);
        if Uid::effective().is_root() {
            assert!(result.unwrap_err().contains("does not exist on this node"));
        } else {
            let launch = result.unwrap();
            assert!(launch.notice.unwrap().contains("does not run as root"));
            assert_eq!(launch.ids, None);
        }
    }

    #[test]
    fn commands_run_through_the_shell() {
        let me = User::from_uid(Uid::effective()).unwrap().unwrap();
        let launch = prepare(&offer(&me.name), Some("echo hi")).unwrap();
        assert_eq!(launch.args, ["-c", "echo hi"]);
        assert_eq!(launch.user, me.name);
        assert!(launch.env.iter().any(|(k, v)| k == "BOSUN_SESSION_ID" && v == "s-1"));
    }
}

//! The document store: named documents with numbered versions, a default
//! version, `$LATEST`, content hashes, and read-only built-in documents.

use bosun_engine::{DocumentSnapshot, StoreError};
use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Store, sql_error};

/// Who owns a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DocumentOwner {
    /// Shipped with Bosun (runbooks/); read-only.
    Bosun,
    /// Created by an operator.
    #[serde(rename = "Self")]
    User,
}

impl DocumentOwner {
    fn as_str(self) -> &'static str {
        match self {
            DocumentOwner::Bosun => "Bosun",
            DocumentOwner::User => "Self",
        }
    }
}

/// One version of a document, without its content.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentInfo {
    pub name: String,
    pub version: u32,
    pub document_type: String,
    pub schema_version: String,
    /// sha256 of the content, hex.
    pub hash: String,
    pub owner: DocumentOwner,
    pub is_default_version: bool,
    pub latest_version: u32,
    pub created_at: String,
}

/// What a caller stores: the text as written, with facts from its parse.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDocument<'a> {
    pub name: &'a str,
    pub file_name: &'a str,
    pub content: &'a str,
    /// `Command` or `Automation`.
    pub document_type: &'a str,
    pub schema_version: &'a str,
}

/// SSM's rule: 3 to 128 of letters, digits, `_`, `-` and `.`; the `AWS-`, `Amazon` and
/// `Bosun-` prefixes are reserved for documents that ship with the product.
pub fn validate_document_name(name: &str, builtin: bool) -> Result<(), StoreError> {
    let ok_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !(3..=128).contains(&name.len()) || !ok_chars {
        return Err(StoreError(format!("invalid document name \"{name}\": use 3 to 128 letters, digits, '_', '-' or '.'")));
    }
    let reserved = ["AWS-", "Amazon", "Bosun-"].iter().find(|p| name.to_ascii_lowercase().starts_with(&p.to_ascii_lowercase()));
    match reserved {
        Some(prefix) if !builtin => Err(StoreError(format!("document names starting with \"{prefix}\" are reserved"))),
        _ => Ok(()),
    }
}

pub fn content_hash(content: &str) -> String {
    hex::encode(Sha256::digest(content.as_bytes()))
}

/// The columns [`info_from_row`] reads, then any `$extra` columns (from index 9).
macro_rules! info_select {
    ($($extra:literal)?) => {
        concat!(
            "SELECT d.name, d.version, d.kind, d.schema_version, d.hash, d.owner, d.created_at, ",
            "COALESCE(df.version, 1), (SELECT MAX(version) FROM documents m WHERE m.name = d.name)",
            $(", ", $extra,)?
            " FROM documents d LEFT JOIN document_defaults df ON df.name = d.name"
        )
    };
}

const INFO_SELECT: &str = info_select!();
/// [`INFO_SELECT`] followed by the file name (column 9) and the content (column 10).
const INFO_SELECT_WITH_CONTENT: &str = info_select!("d.file_name, d.content");

/// The SQL condition on `d.version` selecting a version: a number, `$LATEST`, or `$DEFAULT` (also `None`).
fn version_filter(version: Option<&str>) -> Result<String, StoreError> {
    Ok(match version {
        None | Some("$DEFAULT") => "d.version = COALESCE(df.version, 1)".to_string(),
        Some("$LATEST") => "d.version = (SELECT MAX(version) FROM documents m WHERE m.name = d.name)".to_string(),
        Some(v) => {
            let n: u32 =
                v.parse().map_err(|_| StoreError(format!("invalid document version \"{v}\": use a number, $LATEST or $DEFAULT")))?;
            format!("d.version = {n}")
        }
    })
}

fn info_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DocumentInfo> {
    let version: u32 = r.get(1)?;
    let default: u32 = r.get(7)?;
    let owner: String = r.get(5)?;
    Ok(DocumentInfo {
        name: r.get(0)?,
        version,
        document_type: r.get(2)?,
        schema_version: r.get(3)?,
        hash: r.get(4)?,
        owner: if owner == "Bosun" { DocumentOwner::Bosun } else { DocumentOwner::User },
        is_default_version: version == default,
        latest_version: r.get(8)?,
        created_at: r.get(6)?,
    })
}

fn insert_version(conn: &Connection, doc: &NewDocument<'_>, owner: DocumentOwner) -> Result<u32, StoreError> {
    let latest: Option<u32> =
        conn.query_row("SELECT MAX(version) FROM documents WHERE name = ?1", params![doc.name], |r| r.get(0)).map_err(sql_error)?;
    let version = latest.unwrap_or(0) + 1;
    conn.execute(
        "INSERT INTO documents (name, version, file_name, content, hash, kind, schema_version, owner, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![doc.name, version, doc.file_name, doc.content, content_hash(doc.content), doc.document_type, doc.schema_version, owner.as_str(), Utc::now().to_rfc3339()],
    )
    .map_err(sql_error)?;
    Ok(version)
}

fn set_default(conn: &Connection, name: &str, version: u32) -> Result<(), StoreError> {
    conn.execute("INSERT OR REPLACE INTO document_defaults (name, version) VALUES (?1, ?2)", params![name, version]).map_err(sql_error)?;
    Ok(())
}

fn owner_of(conn: &Connection, name: &str) -> Result<Option<String>, StoreError> {
    conn.query_row("SELECT owner FROM documents WHERE name = ?1 LIMIT 1", params![name], |r| r.get(0)).optional().map_err(sql_error)
}

fn latest_hash(conn: &Connection, name: &str) -> Result<Option<String>, StoreError> {
    conn.query_row("SELECT hash FROM documents WHERE name = ?1 ORDER BY version DESC LIMIT 1", params![name], |r| r.get(0))
        .optional()
        .map_err(sql_error)
}

impl Store {
    /// Creates version 1 of a new document; it becomes the default version.
    pub fn create_document(&self, doc: &NewDocument<'_>) -> Result<DocumentInfo, StoreError> {
        validate_document_name(doc.name, false)?;
        let owned = owned(doc);
        self.writer.run_blocking(Box::new(move |conn| {
            let doc = owned.borrowed();
            if owner_of(conn, doc.name)?.is_some() {
                return Err(StoreError(format!("document \"{}\" already exists; use update to add a version", doc.name)));
            }
            let version = insert_version(conn, &doc, DocumentOwner::User)?;
            set_default(conn, doc.name, version)
        }))?;
        self.document_info(doc.name, Some("1"))?.ok_or_else(|| StoreError("the new document vanished".into()))
    }

    /// Adds a version to an operator's document. The default version does not move.
    pub fn update_document(&self, doc: &NewDocument<'_>) -> Result<DocumentInfo, StoreError> {
        let owned = owned(doc);
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer.run_blocking(Box::new(move |conn| {
            let doc = owned.borrowed();
            match owner_of(conn, doc.name)?.as_deref() {
                None => return Err(StoreError(format!("no document named \"{}\"", doc.name))),
                Some("Bosun") => {
                    return Err(StoreError(format!("document \"{}\" ships with Bosun and is read-only", doc.name)));
                }
                Some(_) => {}
            }
            if latest_hash(conn, doc.name)?.as_deref() == Some(content_hash(doc.content).as_str()) {
                return Err(StoreError(format!("the content is the same as the latest version of \"{}\"", doc.name)));
            }
            let _ = tx.send(insert_version(conn, &doc, DocumentOwner::User)?);
            Ok(())
        }))?;
        let version = rx.recv().map_err(|_| StoreError("no version was created".into()))?;
        self.document_info(doc.name, Some(&version.to_string()))?.ok_or_else(|| StoreError("the new version vanished".into()))
    }

    pub fn set_default_version(&self, name: &str, version: u32) -> Result<(), StoreError> {
        let name = name.to_string();
        self.writer.run_blocking(Box::new(move |conn| {
            let exists: bool = conn
                .query_row("SELECT EXISTS (SELECT 1 FROM documents WHERE name = ?1 AND version = ?2)", params![name, version], |r| r.get(0))
                .map_err(sql_error)?;
            if !exists {
                return Err(StoreError(format!("document \"{name}\" has no version {version}")));
            }
            if owner_of(conn, &name)?.as_deref() == Some("Bosun") {
                return Err(StoreError(format!("document \"{name}\" ships with Bosun and is read-only")));
            }
            set_default(conn, &name, version)
        }))
    }

    /// Deletes every version of an operator's document.
    pub fn delete_document(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_string();
        self.writer.run_blocking(Box::new(move |conn| {
            match owner_of(conn, &name)?.as_deref() {
                None => return Err(StoreError(format!("no document named \"{name}\""))),
                Some("Bosun") => {
                    return Err(StoreError(format!("document \"{name}\" ships with Bosun and is read-only")));
                }
                Some(_) => {}
            }
            conn.execute("DELETE FROM documents WHERE name = ?1", params![name]).map_err(sql_error)?;
            conn.execute("DELETE FROM document_defaults WHERE name = ?1", params![name]).map_err(sql_error)?;
            Ok(())
        }))
    }

    /// Loads a built-in document: a new version (made default) when its content changed.
    pub fn load_builtin(&self, doc: &NewDocument<'_>) -> Result<(), StoreError> {
        validate_document_name(doc.name, true)?;
        let owned = owned(doc);
        self.writer.run_blocking(Box::new(move |conn| {
            let doc = owned.borrowed();
            match owner_of(conn, doc.name)?.as_deref() {
                Some("Self") => {
                    return Err(StoreError(format!("an operator's document is named \"{}\", like a built-in one", doc.name)));
                }
                _ if latest_hash(conn, doc.name)?.as_deref() == Some(content_hash(doc.content).as_str()) => {
                    return Ok(());
                }
                _ => {}
            }
            let version = insert_version(conn, &doc, DocumentOwner::Bosun)?;
            set_default(conn, doc.name, version)
        }))
    }

    /// `version`: a number, `$LATEST`, `$DEFAULT`, or None for the default. The
    /// facts and the content come from one query, so a concurrent delete or update
    /// cannot fall between them.
    pub fn get_document(&self, name: &str, version: Option<&str>) -> Result<Option<(DocumentInfo, DocumentSnapshot)>, StoreError> {
        let filter = version_filter(version)?;
        let sql = format!("{INFO_SELECT_WITH_CONTENT} WHERE d.name = ?1 AND {filter}");
        let found = self.read(|c| {
            c.query_row(&sql, params![name], |r| {
                let info = info_from_row(r)?;
                let file_name: String = r.get(9)?;
                let text: String = r.get(10)?;
                Ok((info, file_name, text))
            })
            .optional()
        })?;
        Ok(found.map(|(info, file_name, text)| {
            let snapshot = DocumentSnapshot { name: name.to_string(), version: Some(info.version.to_string()), file_name, text };
            (info, snapshot)
        }))
    }

    pub fn document_info(&self, name: &str, version: Option<&str>) -> Result<Option<DocumentInfo>, StoreError> {
        let filter = version_filter(version)?;
        self.read(|c| c.query_row(&format!("{INFO_SELECT} WHERE d.name = ?1 AND {filter}"), params![name], info_from_row).optional())
    }

    /// The default version of every document, by name.
    pub fn list_documents(&self) -> Result<Vec<DocumentInfo>, StoreError> {
        self.read(|c| {
            c.prepare(&format!("{INFO_SELECT} WHERE d.version = COALESCE(df.version, 1) ORDER BY d.name"))?
                .query_map([], info_from_row)?
                .collect()
        })
    }

    pub fn document_versions(&self, name: &str) -> Result<Vec<DocumentInfo>, StoreError> {
        self.read(|c| {
            c.prepare(&format!("{INFO_SELECT} WHERE d.name = ?1 ORDER BY d.version"))?.query_map(params![name], info_from_row)?.collect()
        })
    }
}

/// An owned copy of a [`NewDocument`], to move into a write job.
struct OwnedDocument {
    name: String,
    file_name: String,
    content: String,
    document_type: String,
    schema_version: String,
}

impl OwnedDocument {
    fn borrowed(&self) -> NewDocument<'_> {
        NewDocument {
            name: &self.name,
            file_name: &self.file_name,
            content: &self.content,
            document_type: &self.document_type,
            schema_version: &self.schema_version,
        }
    }
}

fn owned(doc: &NewDocument<'_>) -> OwnedDocument {
    OwnedDocument {
        name: doc.name.into(),
        file_name: doc.file_name.into(),
        content: doc.content.into(),
        document_type: doc.document_type.into(),
        schema_version: doc.schema_version.into(),
    }
}

//! The custom section that carries a manifest inside a component: written by
//! `bosun plugin build`, read by the host. Walks only the top-level sections
//! of the binary, with every length checked, so hostile bytes get an error.

use crate::manifest::{Manifest, ManifestError};

/// The name of the custom section.
pub const MANIFEST_SECTION: &str = "bosun-plugin-manifest";

const MAGIC: &[u8; 4] = b"\0asm";
/// Component-model binary: version 0x0d, layer 1.
const COMPONENT_VERSION: [u8; 4] = [0x0d, 0x00, 0x01, 0x00];
const CORE_VERSION: [u8; 4] = [0x01, 0x00, 0x00, 0x00];
const MAX_MANIFEST_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SectionError {
    #[error("not a WebAssembly file (no \\0asm header)")]
    NotWasm,
    #[error("a core WebAssembly module, not a component; build for wasm32-wasip2 (or run `wasm-tools component new`)")]
    CoreModule,
    #[error("unsupported WebAssembly binary version {0:02x?}")]
    Version([u8; 4]),
    #[error("the component is truncated or corrupt at byte {0}")]
    Corrupt(usize),
    #[error("the component carries no Bosun manifest; build it with `bosun plugin build`")]
    Missing,
    #[error("the component carries more than one Bosun manifest")]
    Duplicate,
    #[error("the manifest section is larger than 1 MiB")]
    TooLarge,
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

struct Section {
    /// Byte range of the whole section, id included.
    start: usize,
    end: usize,
    custom_name: Option<String>,
    payload_start: usize,
}

fn read_leb_u32(bytes: &[u8], at: &mut usize) -> Result<u32, SectionError> {
    let mut result: u64 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*at).ok_or(SectionError::Corrupt(*at))?;
        *at += 1;
        result |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return u32::try_from(result).map_err(|_| SectionError::Corrupt(*at));
        }
    }
    Err(SectionError::Corrupt(*at))
}

fn write_leb_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn check_header(bytes: &[u8]) -> Result<(), SectionError> {
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(SectionError::NotWasm);
    }
    let version: [u8; 4] = bytes[4..8].try_into().expect("four bytes");
    match version {
        COMPONENT_VERSION => Ok(()),
        CORE_VERSION => Err(SectionError::CoreModule),
        other => Err(SectionError::Version(other)),
    }
}

fn sections(bytes: &[u8]) -> Result<Vec<Section>, SectionError> {
    check_header(bytes)?;
    let mut at = 8;
    let mut out = Vec::new();
    while at < bytes.len() {
        let start = at;
        let id = bytes[at];
        at += 1;
        let size = read_leb_u32(bytes, &mut at)? as usize;
        let end = at.checked_add(size).filter(|end| *end <= bytes.len()).ok_or(SectionError::Corrupt(start))?;
        let (custom_name, payload_start) = if id == 0 {
            let mut cursor = at;
            let len = read_leb_u32(bytes, &mut cursor)? as usize;
            let name_end = cursor.checked_add(len).filter(|e| *e <= end).ok_or(SectionError::Corrupt(cursor))?;
            let name = std::str::from_utf8(&bytes[cursor..name_end]).map_err(|_| SectionError::Corrupt(cursor))?;
            (Some(name.to_string()), name_end)
        } else {
            (None, at)
        };
        out.push(Section { start, end, custom_name, payload_start });
        at = end;
    }
    Ok(out)
}

/// Returns the component with `manifest` as its manifest section, replacing any
/// manifest it carried. The caller checks the manifest (`Manifest::from_json`
/// does); the reader checks it again.
pub fn embed(component: &[u8], manifest: &Manifest) -> Result<Vec<u8>, SectionError> {
    let found = sections(component)?;
    let mut out = Vec::with_capacity(component.len() + 4096);
    out.extend_from_slice(&component[..8]);
    for section in found.iter().filter(|s| s.custom_name.as_deref() != Some(MANIFEST_SECTION)) {
        out.extend_from_slice(&component[section.start..section.end]);
    }
    let json = manifest.to_json();
    if json.len() > MAX_MANIFEST_BYTES {
        return Err(SectionError::TooLarge);
    }
    let mut payload = Vec::with_capacity(json.len() + 32);
    write_leb_u32(&mut payload, MANIFEST_SECTION.len() as u32);
    payload.extend_from_slice(MANIFEST_SECTION.as_bytes());
    payload.extend_from_slice(json.as_bytes());
    out.push(0);
    write_leb_u32(&mut out, payload.len() as u32);
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Reads and checks the manifest a component carries.
pub fn extract(component: &[u8]) -> Result<Manifest, SectionError> {
    let found = sections(component)?;
    let mut manifests = found.iter().filter(|s| s.custom_name.as_deref() == Some(MANIFEST_SECTION));
    let section = manifests.next().ok_or(SectionError::Missing)?;
    if manifests.next().is_some() {
        return Err(SectionError::Duplicate);
    }
    let payload = &component[section.payload_start..section.end];
    if payload.len() > MAX_MANIFEST_BYTES {
        return Err(SectionError::TooLarge);
    }
    let text = std::str::from_utf8(payload).map_err(|_| ManifestError::Json("the manifest is not UTF-8".into()))?;
    Ok(Manifest::from_json(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A component header followed by one non-custom section and one foreign custom section.
    fn component() -> Vec<u8> {
        let mut bytes = b"\0asm".to_vec();
        bytes.extend_from_slice(&COMPONENT_VERSION);
        bytes.extend_from_slice(&[1, 3, 0xaa, 0xbb, 0xcc]);
        bytes.extend_from_slice(&[0, 6, 4, b'n', b'a', b'm', b'e', 9]);
        bytes
    }

    fn manifest() -> Manifest {
        Manifest::from_json(r#"{"name":"x","version":"1.0.0","abi":"0.1","actions":[{"name":"bosun:x"}]}"#).unwrap()
    }

    #[test]
    fn embed_then_extract_and_replace() {
        let once = embed(&component(), &manifest()).unwrap();
        assert_eq!(extract(&once).unwrap(), manifest());
        let mut other = manifest();
        other.version = "2.0.0".into();
        let twice = embed(&once, &other).unwrap();
        assert_eq!(extract(&twice).unwrap().version, "2.0.0");
        assert!(twice.starts_with(&component()), "other sections are kept in order");
    }

    #[test]
    fn refuses_what_is_not_a_component() {
        assert_eq!(extract(b"hello").unwrap_err(), SectionError::NotWasm);
        assert_eq!(extract(b"\0asm\x01\0\0\0").unwrap_err(), SectionError::CoreModule);
        assert_eq!(extract(&component()).unwrap_err(), SectionError::Missing);
        let mut truncated = embed(&component(), &manifest()).unwrap();
        truncated.truncate(truncated.len() - 3);
        assert!(matches!(extract(&truncated).unwrap_err(), SectionError::Corrupt(_)));
    }

    #[test]
    fn two_manifests_are_refused() {
        let once = embed(&component(), &manifest()).unwrap();
        let tail = once[component().len()..].to_vec();
        let mut doubled = once.clone();
        doubled.extend_from_slice(&tail);
        assert_eq!(extract(&doubled).unwrap_err(), SectionError::Duplicate);
    }

    proptest! {
        #[test]
        fn hostile_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut bytes = component();
            bytes.extend_from_slice(&tail);
            let _ = extract(&bytes);
        }
    }
}

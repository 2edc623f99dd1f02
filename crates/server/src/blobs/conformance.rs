//! What every blob store must do, run against each backend.

use std::path::Path;

use futures::StreamExt;

use super::{BlobError, BlobId, DynBlobs};

async fn read(store: &DynBlobs, id: &BlobId, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let mut stream = store.get(id, range).await.expect("get");
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    out
}

fn file(dir: &Path, name: &str, bytes: &[u8]) -> (BlobId, std::path::PathBuf) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    (BlobId::of(bytes), path)
}

/// Every case, on one store; `dir` holds the files put.
pub async fn run_all(store: DynBlobs, dir: &Path) {
    // A small blob: whole, in ranges, twice.
    let small = b"Ferry carries files".to_vec();
    let (id, path) = file(dir, "small", &small);
    assert_eq!(store.size(&id).await.expect("size"), None);
    store.put_file(&id, &path).await.expect("put");
    assert!(path.exists(), "the source file is left as it was");
    assert_eq!(
        store.size(&id).await.expect("size"),
        Some(small.len() as u64)
    );
    assert_eq!(read(&store, &id, None).await, small);
    assert_eq!(read(&store, &id, Some(6..13)).await, b"carries");
    assert_eq!(read(&store, &id, Some(3..3)).await, b"");
    assert!(matches!(
        store.get(&id, Some(10..99)).await.err(),
        Some(BlobError::Range { size: 19, .. })
    ));
    store.put_file(&id, &path).await.expect("put again");
    assert_eq!(read(&store, &id, None).await, small);

    // Taken: stored, and the source is gone; taking a stored one drops it too.
    let taken = b"an upload moved in".to_vec();
    let (taken_id, taken_path) = file(dir, "taken", &taken);
    store.take_file(&taken_id, &taken_path).await.expect("take");
    assert!(!taken_path.exists(), "the taken file is gone");
    assert_eq!(read(&store, &taken_id, None).await, taken);
    let (_, again) = file(dir, "taken-again", &taken);
    store
        .take_file(&taken_id, &again)
        .await
        .expect("take again");
    assert!(!again.exists());
    assert_eq!(read(&store, &taken_id, None).await, taken);

    // A blob of several parts, put twice at once: one blob, intact.
    let big: Vec<u8> = (0..20 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let (big_id, big_path) = file(dir, "big", &big);
    let (a, b) = tokio::join!(
        store.put_file(&big_id, &big_path),
        store.put_file(&big_id, &big_path)
    );
    a.expect("put");
    b.expect("put");
    assert_eq!(
        store.size(&big_id).await.expect("size"),
        Some(big.len() as u64)
    );
    let back = read(&store, &big_id, None).await;
    assert!(back == big, "the big blob came back changed");
    let tail = 20 * 1024 * 1024 - 5;
    assert_eq!(
        read(&store, &big_id, Some(tail..tail + 5)).await,
        big[tail as usize..]
    );

    // Unknown blobs: absent, not found, deleted without fuss.
    let unknown = BlobId::of(b"never stored");
    assert_eq!(store.size(&unknown).await.expect("size"), None);
    assert!(matches!(
        store.get(&unknown, None).await.err(),
        Some(BlobError::NotFound(_))
    ));
    store.delete(&unknown).await.expect("delete nothing");

    // Listing and deleting.
    let now = chrono::Utc::now().timestamp_millis();
    let mut listed = store.list().await.expect("list");
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    let mut want = vec![
        (id.clone(), small.len() as u64),
        (big_id.clone(), big.len() as u64),
        (taken_id.clone(), taken.len() as u64),
    ];
    want.sort();
    assert_eq!(
        listed
            .iter()
            .map(|m| (m.id.clone(), m.size))
            .collect::<Vec<_>>(),
        want
    );
    assert!(
        listed.iter().all(|m| (now - m.stored_ms).abs() < 3_600_000),
        "{listed:?}"
    );
    store.delete(&id).await.expect("delete");
    store.delete(&id).await.expect("delete again");
    assert_eq!(store.size(&id).await.expect("size"), None);
    assert!(matches!(
        store.get(&id, None).await.err(),
        Some(BlobError::NotFound(_))
    ));
    store.delete(&taken_id).await.expect("delete");
    let left: Vec<BlobId> = store
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(left, [big_id]);
}

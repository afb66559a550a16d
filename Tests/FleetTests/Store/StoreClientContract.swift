import Testing
@testable import Fleet

/// What every `StoreClient` must do, run against each implementation (real etcd, our KV).
enum StoreClientContract {
    static func run(_ store: any StoreClient, prefix: String) async throws {
        let k = prefix + "/a"
        // Missing keys read as nil, with the index.
        let (missing, index0) = try await store.get(k, recursive: false, quorum: false)
        #expect(missing == nil)
        #expect(index0 > 0)

        // set, get, update by condition.
        let n1 = try await store.set(k, value: "one")
        #expect(n1.value == "one" && n1.modifiedIndex > index0)
        let (read, _) = try await store.get(k, recursive: false, quorum: true)
        #expect(read?.value == "one")
        let n2 = try await store.set(k, value: "two", ttl: nil, condition: .prevIndex(n1.modifiedIndex))
        #expect(n2.value == "two")
        await #expect(throws: StoreClientError.compareFailed(key: k, cause: "[\(n1.modifiedIndex) != \(n2.modifiedIndex)]")) {
            try await store.set(k, value: "three", ttl: nil, condition: .prevIndex(n1.modifiedIndex))
        }
        await #expect(throws: StoreClientError.self) {
            try await store.set(k, value: "three", ttl: nil, condition: .prevValue("nope"))
        }
        try await store.set(k, value: "three", ttl: nil, condition: .prevValue("two"))

        // create / mustExist.
        await #expect(throws: StoreClientError.keyExists(k)) {
            try await store.set(k, value: "x", ttl: nil, condition: .mustNotExist)
        }
        await #expect(throws: StoreClientError.self) {
            try await store.set(prefix + "/absent", value: "x", ttl: nil, condition: .mustExist)
        }
        try await store.set(prefix + "/created", value: "c", ttl: nil, condition: .mustNotExist)

        // TTL keys and refresh.
        let leased = try await store.set(prefix + "/lease", value: "holder", ttl: 30, condition: .mustNotExist)
        #expect(leased.ttl != nil && leased.ttl! <= 30)
        let refreshed = try await store.refresh(prefix + "/lease", ttl: 60, condition: .prevIndex(leased.modifiedIndex))
        #expect(refreshed.value == "holder")
        #expect((refreshed.ttl ?? 0) > 30)

        // Directories and recursive listing.
        try await store.makeDirectory(prefix + "/dir", ttl: nil)
        await #expect(throws: StoreClientError.keyExists(prefix + "/dir")) {
            try await store.makeDirectory(prefix + "/dir", ttl: nil)
        }
        try await store.set(prefix + "/dir/x/y", value: "deep")
        let (tree, _) = try await store.get(prefix, recursive: true, quorum: false)
        let leaves = tree?.leaves.map(\.key) ?? []
        #expect(leaves.contains(prefix + "/dir/x/y"))
        #expect(leaves.contains(k))

        // Watch from an index: an event already in history is returned at once; a later one wakes.
        let (_, before) = try await store.get(k, recursive: false, quorum: false)
        let written = try await store.set(prefix + "/dir/x/z", value: "w")
        let seen = try await store.waitForChange(prefix + "/dir", recursive: true, fromIndex: before + 1)
        #expect(seen.node.key == prefix + "/dir/x/z" && seen.node.modifiedIndex == written.modifiedIndex)
        async let next = store.waitForChange(k, recursive: false, fromIndex: written.modifiedIndex + 1)
        try await Task.sleep(for: .milliseconds(100))
        let deleted = try await store.delete(k, recursive: false, condition: .prevValue("three"))
        #expect(deleted?.value == "three")
        let event = try await next
        #expect(event.action == "compareAndDelete" && event.isRemoval)

        // Deletes.
        await #expect(throws: StoreClientError.self) {
            try await store.delete(prefix + "/dir", recursive: false, condition: .none)
        }
        try await store.delete(prefix + "/dir", recursive: true, condition: .none)
        let (gone, _) = try await store.get(prefix + "/dir/x/y", recursive: false, quorum: false)
        #expect(gone == nil)
    }
}

/// What an API key may do; each role includes the ones before it.
public enum APIKeyRole: String, Sendable, Hashable, CaseIterable, Comparable {
    /// Search, read points, `GET /v1/index`, `/metrics`.
    case read
    /// Also upsert and delete points.
    case write
    /// Also replace the served index (`POST /v1/admin/reload`).
    case admin

    /// Whether `a` allows less than `b`.
    public static func < (a: APIKeyRole, b: APIKeyRole) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// The accepted API keys, checked without revealing a key's bytes or length through timing.
///
/// A candidate is first compared by a keyed 64-bit digest (SipHash with this process's random
/// seed, which `Hasher` keeps secret): hashing costs time in the candidate's length only, and the
/// keys' digests are computed once, here. Only on a digest match are the bytes compared, in
/// constant time, so a collision cannot let a wrong key in.
struct APIKeys: Sendable {
    private let keys: [(digest: Int, bytes: [UInt8], role: APIKeyRole)]

    init(_ keys: [String: APIKeyRole]) {
        self.keys = keys.map { (Self.digest($0.key.utf8), Array($0.key.utf8), $0.value) }
    }

    /// No keys configured: the server is open.
    var isEmpty: Bool { keys.isEmpty }

    /// The role of `candidate`, or nil when it is not one of the keys.
    func role(of candidate: some StringProtocol) -> APIKeyRole? {
        let bytes = Array(candidate.utf8)
        let digest = Self.digest(bytes)
        var found: APIKeyRole?
        for key in keys {
            // Every key is visited whatever the outcome, so the position of a match does not show.
            if key.digest == digest, Self.constantTimeEqual(bytes, key.bytes) { found = key.role }
        }
        return found
    }

    /// Whether `candidate` is one of the keys.
    func matches(_ candidate: some StringProtocol) -> Bool {
        role(of: candidate) != nil
    }

    private static func digest(_ bytes: some Sequence<UInt8>) -> Int {
        var hasher = Hasher()
        for byte in bytes { hasher.combine(byte) }
        return hasher.finalize()
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

/// Per-query search knobs. Passed with each call and never stored on the index, so concurrent
/// searches with different settings cannot interfere (unlike hnswlib's `setEf`).
public struct SearchParameters: Sendable, Hashable, Codable {
    /// When a posting list's bytes are checked against its checksum.
    public enum ChecksumPolicy: String, Sendable, Hashable, Codable, CaseIterable {
        /// The first time each list is read by this process (catches corrupt files; free after warm-up).
        case firstRead = "first-read"
        /// On every read (also catches bytes that change under a running server; costs ~15% QPS).
        case everyRead = "every-read"
        /// Never (trusted storage, maximum speed).
        case never
    }

    /// Centroid candidates the graph search keeps (HNSW's `ef`, SPTAG's `SearchInternalResultNum`).
    /// Raised to `2 × maxPostings` when smaller (see `effectiveSearchCandidates`).
    public var searchCandidates = 128
    /// Most posting lists read per query (faiss's `nprobe`).
    public var maxPostings = 64
    /// Query-aware pruning (SPANN's ε₂, SPTAG's `MaxDistRatio`): read only lists whose centroid
    /// is within `maxDistanceRatio ×` the nearest centroid's distance. nil disables it.
    /// Distances are squared L2 (or cosine distance); ignored for raw inner product.
    public var maxDistanceRatio: Float? = 4
    /// When posting-list checksums are verified.
    public var checksums = ChecksumPolicy.firstRead

    /// The defaults (docs/PARAMETERS.md).
    public init() {}

    /// The beam the centroid search actually keeps: `searchCandidates`, but at least twice the lists
    /// to be read. A beam no wider than the lists it must choose finds the nearest centroids
    /// unreliably (minilm-100k, 64 lists: beam 64 → recall@10 0.939, 128 → 0.947, 256 → 0.951), so
    /// raising `maxPostings` alone would buy less recall per list than it costs.
    public var effectiveSearchCandidates: Int {
        max(searchCandidates, 2 * maxPostings)  // validate() bounds maxPostings
    }

    /// Checks every field's range.
    public func validate() throws(ConfigurationError) {
        guard searchCandidates >= 1, searchCandidates <= 100_000 else {
            throw ConfigurationError("search candidates \(searchCandidates) is outside 1...100000")
        }
        guard maxPostings >= 1, maxPostings <= 100_000 else { throw ConfigurationError("max postings \(maxPostings) is outside 1...100000") }
        if let ratio = maxDistanceRatio, !(ratio >= 1) {
            throw ConfigurationError("max distance ratio \(ratio) must be ≥ 1")
        }
    }
}

extension SearchParameters {
    /// The knobs a request may override, each nil when the index default should stand. The CLI,
    /// the HTTP API and the TCP protocol all carry this, so they agree on what can be changed.
    public struct Overrides: Sendable, Hashable, Codable {
        /// Most posting lists read per query (nil: the default).
        public var maxPostings: Int?
        /// Centroid candidates the graph search keeps (nil: the default).
        public var searchCandidates: Int?
        /// A ratio ≥ 1; see `disablePruning` to turn pruning off.
        public var maxDistanceRatio: Float?
        /// Reads up to `maxPostings` lists whatever their distance.
        public var disablePruning: Bool
        /// The recall@10 wanted, in (0, 1]: the list budget comes from the index's calibration
        /// table (`Index.parameters(_:)`) instead of `maxPostings`, which must then be nil.
        public var targetRecall: Double?

        /// Overrides of the given parameters; nil leaves a default in place.
        public init(
            maxPostings: Int? = nil,
            searchCandidates: Int? = nil,
            maxDistanceRatio: Float? = nil,
            disablePruning: Bool = false,
            targetRecall: Double? = nil
        ) {
            self.maxPostings = maxPostings
            self.searchCandidates = searchCandidates
            self.maxDistanceRatio = maxDistanceRatio
            self.disablePruning = disablePruning
            self.targetRecall = targetRecall
        }

        /// True when nothing is overridden.
        public var isEmpty: Bool { self == Overrides() }

        /// `defaults` with these overrides applied, except `targetRecall`, which needs the index's
        /// calibration (`Index.parameters(_:)` applies everything).
        public func applied(to defaults: SearchParameters) -> SearchParameters {
            var parameters = defaults
            if let maxPostings { parameters.maxPostings = maxPostings }
            if let searchCandidates { parameters.searchCandidates = searchCandidates }
            if let maxDistanceRatio { parameters.maxDistanceRatio = maxDistanceRatio }
            if disablePruning { parameters.maxDistanceRatio = nil }
            return parameters
        }
    }
}

/// Every knob of an index build, grouped by phase. Recorded verbatim in the index manifest.
public struct BuildConfiguration: Sendable, Hashable, Codable {
    /// Centroid selection (hierarchical balanced k-means).
    public var heads = HeadSelection.Configuration()
    /// The in-memory centroid graph.
    public var graph = GraphConfiguration()
    /// Closure + RNG posting assignment and the posting cap.
    public var assignment = PostingAssignment.Configuration()

    /// The defaults (docs/PARAMETERS.md).
    public init() {}

    /// Checks every field's range.
    public func validate() throws(ConfigurationError) {
        guard heads.centroidRatio > 0, heads.centroidRatio <= 1 else {
            throw ConfigurationError("centroid ratio \(heads.centroidRatio) is outside (0, 1]")
        }
        guard (2...1024).contains(heads.kMeans.branching) else {
            throw ConfigurationError("k-means branching \(heads.kMeans.branching) is outside 2...1024")
        }
        guard heads.kMeans.iterations >= 1 else { throw ConfigurationError("k-means iterations must be ≥ 1") }
        try graph.validate()
        try assignment.validate()
    }
}

/// How two vectors are compared. Every metric is expressed as a *distance*: smaller is closer.
///
/// - `l2`: squared Euclidean distance, Σ (aᵢ − bᵢ)².
/// - `innerProduct`: the negated dot product, −Σ aᵢbᵢ (maximum inner product search).
/// - `cosine`: 1 − cos(a, b). An index normalises vectors at build and query time, which turns
///   cosine into inner product on unit vectors; the kernels also compute it directly.
public enum Metric: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case l2
    case innerProduct = "ip"
    case cosine

    /// A one-line description for logs and error messages.
    public var description: String { rawValue }
}

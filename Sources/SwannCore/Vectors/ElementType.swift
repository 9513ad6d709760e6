/// The scalar type of one vector component, kept as stored (never silently widened).
///
/// SPTAG calls these `VectorValueType` (Float, Int8, UInt8); float16 is added because
/// embeddings are often shipped in half precision.
public enum ElementType: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case float32
    case float16
    case int8
    case uint8

    /// The values a float query component may take to be narrowed to this type without
    /// clamping or overflowing to ∞ (nil: every finite float).
    public var representableRange: ClosedRange<Float>? {
        switch self {
        case .float32: nil
        case .float16: -Float(Float16.greatestFiniteMagnitude)...Float(Float16.greatestFiniteMagnitude)
        case .int8: -128...127
        case .uint8: 0...255
        }
    }

    /// Bytes per component.
    @inlinable
    public var byteWidth: Int {
        switch self {
        case .float32: 4
        case .float16: 2
        case .int8, .uint8: 1
        }
    }

    /// Whether distances accumulate exactly in integers (the 8-bit types).
    public var isInteger: Bool { self == .int8 || self == .uint8 }

    /// A one-line description for logs and error messages.
    public var description: String { rawValue }
}

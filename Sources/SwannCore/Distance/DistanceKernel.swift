/// A distance function over two rows of one element type, chosen once per index or scan.
///
/// Kernels are generic *types* with a static function, not closures or existentials, so a
/// loop written as `func scan<K: DistanceKernel>(…)` is specialised per kernel and the call
/// inlines: no indirect call, no ARC, no allocation per candidate.
///
/// Every kernel returns a distance (smaller is closer); see `Metric`. 8-bit kernels accumulate
/// exactly in 32-bit integer lanes and convert to `Float` once at the end.
@_spi(Engine) public protocol DistanceKernel {
    /// The element type both rows are stored in.
    static var elementType: ElementType { get }
    /// The metric this kernel computes.
    static var metric: Metric { get }
    /// The distance between the `dimension`-component rows at `a` and `b`.
    static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float
}

/// Receives a kernel type picked at run time; `Distance.dispatch` calls `run` once with the
/// concrete kernel so that the body is specialised for it.
@_spi(Engine) public protocol KernelConsumer {
    associatedtype Output
    func run<Kernel: DistanceKernel>(_ kernel: Kernel.Type) -> Output
}

/// Entry points that pick a kernel from a `(Metric, ElementType)` pair.
@_spi(Engine) public enum Distance {
    /// Calls `consumer.run` with the kernel for `metric` over `elementType`.
    @inlinable
    public static func dispatch<C: KernelConsumer>(
        metric: Metric,
        elementType: ElementType,
        to consumer: C
    ) -> C.Output {
        switch (metric, elementType) {
        case (.l2, .float32): consumer.run(L2Float32.self)
        case (.l2, .float16): consumer.run(L2Float16.self)
        case (.l2, .int8): consumer.run(L2Int8.self)
        case (.l2, .uint8): consumer.run(L2UInt8.self)
        case (.innerProduct, .float32): consumer.run(InnerProductFloat32.self)
        case (.innerProduct, .float16): consumer.run(InnerProductFloat16.self)
        case (.innerProduct, .int8): consumer.run(InnerProductInt8.self)
        case (.innerProduct, .uint8): consumer.run(InnerProductUInt8.self)
        case (.cosine, .float32): consumer.run(CosineFloat32.self)
        case (.cosine, .float16): consumer.run(CosineFloat16.self)
        case (.cosine, .int8): consumer.run(CosineInt8.self)
        case (.cosine, .uint8): consumer.run(CosineUInt8.self)
        }
    }

    /// The distance between two rows, dispatching on every call. Convenient outside hot loops.
    public static func between(
        _ a: UnsafeRawPointer,
        _ b: UnsafeRawPointer,
        dimension: Int,
        metric: Metric,
        elementType: ElementType
    ) -> Float {
        dispatch(metric: metric, elementType: elementType, to: PairDistance(a: a, b: b, dimension: dimension))
    }

    /// The distance between two `Float` arrays of equal length.
    public static func between(_ a: [Float], _ b: [Float], metric: Metric) -> Float {
        precondition(a.count == b.count, "dimension mismatch: \(a.count) vs \(b.count)")
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in
                between(pa.baseAddress!, pb.baseAddress!, dimension: a.count, metric: metric, elementType: .float32)
            }
        }
    }

    /// Turns `(dot, ‖a‖², ‖b‖²)` into a cosine distance; a zero vector is at distance 1 from everything.
    @inlinable @inline(__always)
    public static func cosineDistance(dot: Float, normA: Float, normB: Float) -> Float {
        let denominator = normA.squareRoot() * normB.squareRoot()
        return denominator > 0 ? 1 - dot / denominator : 1
    }
}

struct PairDistance: KernelConsumer {
    let a: UnsafeRawPointer
    let b: UnsafeRawPointer
    let dimension: Int
    init(a: UnsafeRawPointer, b: UnsafeRawPointer, dimension: Int) {
        self.a = a
        self.b = b
        self.dimension = dimension
    }
    func run<Kernel: DistanceKernel>(_ kernel: Kernel.Type) -> Float {
        Kernel.distance(a, b, dimension: dimension)
    }
}

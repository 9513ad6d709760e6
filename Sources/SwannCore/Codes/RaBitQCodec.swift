public import CSwannKernels

/// RaBitQ codes of posting entries (Gao & Long, SIGMOD 2024: "RaBitQ: Quantizing
/// High-Dimensional Vectors with a Theoretical Error Bound for Approximate Nearest Neighbor
/// Search"): one bit per dimension of the entry's residual to its list's centroid, after a
/// random rotation, plus three factors. A scan estimates each entry's distance from the bits
/// with an unbiased estimator whose error is bounded with high probability, so entries whose
/// lower bound cannot enter the top k are skipped and the rest are re-ranked with exact rows.
///
/// Why a residual: ⟨ô, v⟩ ≈ ⟨x̄, Pv⟩ / ⟨x̄, Pô⟩ for the unit residual ô, its code x̄ (±1/√D in
/// the rotated space) and any vector v, with error ∝ ‖v‖/√D. Taking v = q − c (the query's
/// residual to the same centroid) keeps the error proportional to the query's distance from
/// the list, not its norm. Since ⟨x̄, P(q − c)⟩ = ⟨x̄, Pq⟩ − ⟨x̄, Pc⟩ and the second term is fixed
/// per entry, it is folded into the entry's factors at build time: a query is rotated and
/// quantised once, not once per list.
///
/// The rotation is three rounds of random signs and a normalised Walsh–Hadamard transform over
/// the dimension padded to a power of two (O(D log D) per vector, no D × D matrix to store or
/// multiply); the padding adds code bits, which only makes the estimate tighter.
@_spi(Engine) public struct RaBitQCodec: Sendable, Hashable, Codable {
    /// Components per vector.
    public let dimension: Int
    /// Components of the rotated space: the next power of two ≥ `dimension`, at least 64.
    public let paddedDimension: Int
    /// Seed of the rotation's random signs.
    public let seed: UInt64
    /// Bits each query component is quantised to for the scan (the estimate's error from it is
    /// far below the code's own at 4; see docs/FORMAT.md).
    public let queryBits: Int

    /// Rounds of signs and transform in the rotation.
    static let rounds = 3
    /// ε₀ of the error bound (the paper's 1.9). On minilm-100k at 64 lists, with up to 200
    /// candidates re-ranked, recall@10 was 0.9498 at 1.9 and 0.9506 at 3 (float32 rows:
    /// 0.9526) while 3 read 37% more rows: wider bounds keep more candidates alive.
    public static let confidence: Float = 1.9

    /// `rounds × paddedDimension` random ±1, derived from `seed`.
    private let signs: [Float]

    private enum CodingKeys: String, CodingKey { case dimension, paddedDimension, seed, queryBits }

    /// A codec for `dimension`-component vectors with the rotation drawn from `seed`.
    /// - Precondition: `1 ≤ dimension ≤ 65,536`.
    public init(dimension: Int, seed: UInt64 = 0x5241_4269_7451, queryBits: Int = 4) {
        precondition((1...65_536).contains(dimension), "dimension \(dimension) out of range")
        self.dimension = dimension
        self.paddedDimension = Self.paddedDimension(for: dimension)
        self.seed = seed
        self.queryBits = queryBits
        signs = Self.signs(count: Self.rounds * paddedDimension, seed: seed)
    }

    /// Decodes a codec from the manifest, refusing a padded dimension or query bits that do not
    /// fit its dimension (the rotation is rebuilt from the seed).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let dimension = try container.decode(Int.self, forKey: .dimension)
        let padded = try container.decode(Int.self, forKey: .paddedDimension)
        let seed = try container.decode(UInt64.self, forKey: .seed)
        let queryBits = try container.decode(Int.self, forKey: .queryBits)
        guard (1...65_536).contains(dimension), padded == Self.paddedDimension(for: dimension), (1...8).contains(queryBits) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription:
                        "rabitq: dimension \(dimension), padded dimension \(padded) and query bits \(queryBits) are not a valid codec (padded must be the next power of two ≥ max(dimension, 64); query bits 1...8)"
                )
            )
        }
        self.init(dimension: dimension, seed: seed, queryBits: queryBits)
    }

    /// Encodes the fields the rotation is rebuilt from.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(dimension, forKey: .dimension)
        try container.encode(paddedDimension, forKey: .paddedDimension)
        try container.encode(seed, forKey: .seed)
        try container.encode(queryBits, forKey: .queryBits)
    }

    /// Whether two codecs make the same codes (the signs follow from the seed).
    public static func == (a: Self, b: Self) -> Bool {
        a.dimension == b.dimension && a.seed == b.seed && a.queryBits == b.queryBits
    }

    /// Hashes what `==` compares.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(dimension)
        hasher.combine(seed)
        hasher.combine(queryBits)
    }

    static func paddedDimension(for dimension: Int) -> Int {
        var n = 64
        while n < dimension { n <<= 1 }
        return n
    }

    private static func signs(count: Int, seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        var signs = [Float](repeating: 1, count: count)
        var bits: UInt64 = 0
        for i in 0..<count {
            if i & 63 == 0 { bits = random.next() }
            if bits & (1 &<< UInt64(i & 63)) != 0 { signs[i] = -1 }
        }
        return signs
    }

    /// u64 words of one code.
    @inlinable public var codeWords: Int { paddedDimension / 64 }
    /// Bytes of one posting entry's row: the code, then float32 A, B and E.
    @inlinable public var entryBytes: Int { codeWords * 8 + 12 }

    /// Rotates `dimension` components at `input` into `output` (`paddedDimension` floats; may
    /// be `input` when it has room). An orthogonal map: distances and dot products are kept.
    public func rotate(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        let n = paddedDimension
        if UnsafePointer(output) != input { output.update(from: input, count: dimension) }
        (output + dimension).update(repeating: 0, count: n - dimension)
        signs.withUnsafeBufferPointer { signs in
            for round in 0..<Self.rounds {
                let roundSigns = signs.baseAddress! + round * n
                for i in 0..<n { output[i] *= roundSigns[i] }
                Self.hadamard(output, count: n)
            }
        }
        var scale: Float = 1
        for _ in 0..<Self.rounds { scale /= Float(n).squareRoot() }
        for i in 0..<n { output[i] *= scale }
    }

    /// The unnormalised fast Walsh–Hadamard transform, in place (`count` a power of two).
    @inline(__always)
    static func hadamard(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        var half = 1
        while half < n {
            var start = 0
            while start < n {
                for j in start..<(start + half) {
                    let a = x[j]
                    let b = x[j + half]
                    x[j] = a + b
                    x[j + half] = a - b
                }
                start += 2 * half
            }
            half <<= 1
        }
    }

    /// Writes the posting entry of `vector` in the list of `centroid` (`entryBytes` at `entry`).
    /// - Parameters:
    ///   - rotatedCentroid: `rotate(centroid)`, computed once per list.
    ///   - metric: the kernel metric the scan estimates (`.l2`: squared distance;
    ///     `.innerProduct`: −dot, also standing in for cosine on unit vectors).
    ///   - scratch: at least `paddedDimension` floats.
    public func encode(
        vector: UnsafePointer<Float>,
        centroid: UnsafePointer<Float>,
        rotatedCentroid: UnsafePointer<Float>,
        metric: Metric,
        scratch: UnsafeMutablePointer<Float>,
        into entry: UnsafeMutableRawPointer
    ) {
        precondition(metric != .cosine, "cosine indexes store unit vectors and estimate inner product")
        let n = paddedDimension
        var squaredNorm: Double = 0
        var centroidDot: Double = 0
        for i in 0..<dimension {
            let r = vector[i] - centroid[i]
            scratch[i] = r
            squaredNorm += Double(r) * Double(r)
            centroidDot += Double(centroid[i]) * Double(r)
        }
        rotate(scratch, into: scratch)
        let words = entry.bindMemory(to: UInt64.self, capacity: codeWords)
        var absoluteSum: Double = 0
        var centroidProjection: Double = 0
        for w in 0..<codeWords {
            var word: UInt64 = 0
            for bit in 0..<64 {
                let i = w * 64 + bit
                let x = scratch[i]
                absoluteSum += Double(abs(x))
                if x > 0 {
                    word |= 1 &<< UInt64(bit)
                    centroidProjection += Double(rotatedCentroid[i])
                } else {
                    centroidProjection -= Double(rotatedCentroid[i])
                }
            }
            words[w] = word.littleEndian
        }
        let norm = squaredNorm.squareRoot()
        var factors: (Float, Float, Float) = (0, 0, 0)
        if norm > 0, absoluteSum > 0 {
            let rootN = Double(n).squareRoot()
            // ⟨ô, x̄⟩ in (0, 1]: how well the code's direction matches the residual's.
            let alignment = absoluteSum / (norm * rootN)
            let projection = centroidProjection / rootN  // ⟨x̄, Pc⟩
            let spread = (max(0, 1 - alignment * alignment)).squareRoot() / (alignment * Double(n - 1).squareRoot())
            switch metric {
            case .l2:
                factors = (
                    Float(squaredNorm + 2 * norm * projection / alignment),
                    Float(-2 * norm / alignment),
                    Float(2 * norm * spread)
                )
            default:
                factors = (Float(-centroidDot + norm * projection / alignment), Float(-norm / alignment), Float(norm * spread))
            }
        }
        withUnsafeBytes(of: factors) { (entry + codeWords * 8).copyMemory(from: $0.baseAddress!, byteCount: 12) }
    }

    /// Rotates and quantises `query` (`dimension` floats) for a scan, into `prepared`.
    public func prepare(_ query: UnsafePointer<Float>, into prepared: inout RaBitQQuery) {
        let n = paddedDimension
        let words = codeWords
        prepared.reserve(paddedDimension: n, words: words, bits: queryBits)
        prepared.bits = queryBits
        prepared.words = words
        prepared.rotated.withUnsafeMutableBufferPointer { rotated in
            rotate(query, into: rotated.baseAddress!)
            var low = Float.infinity
            var high = -Float.infinity
            for x in rotated {
                low = min(low, x)
                high = max(high, x)
            }
            let levels = Float((1 << queryBits) - 1)
            let delta = high > low ? (high - low) / levels : 0
            var codeSum = 0
            prepared.planes.withUnsafeMutableBufferPointer { planes in
                planes.update(repeating: 0)
                for i in 0..<n {
                    let code = delta > 0 ? min(Int(levels), Int((rotated[i] - low) / delta + 0.5)) : 0
                    codeSum += code
                    for j in 0..<queryBits where code & (1 << j) != 0 {
                        planes[j * words + i / 64] |= 1 &<< UInt64(i & 63)
                    }
                }
            }
            prepared.parameters = swann_rabitq_query(
                delta: delta,
                low: low,
                sum: delta * Float(codeSum) + Float(n) * low,
                scale: 1 / Float(n).squareRoot()
            )
        }
    }
}

/// A query rotated and quantised for a RaBitQ scan (`RaBitQCodec.prepare`); its storage is
/// reused across queries.
@_spi(Engine) public struct RaBitQQuery {
    /// The query rotated by the codec's transform (padded dimension).
    public var rotated: [Float] = []
    /// `bits` planes of `words` words: plane j holds bit j of every quantised component.
    public var planes: [UInt64] = []
    /// Bits per quantised query component.
    public var bits = 0
    /// 64-bit words per bit plane.
    public var words = 0
    /// The scalars the estimator needs, laid out for the C kernel.
    public var parameters = swann_rabitq_query(delta: 0, low: 0, sum: 0, scale: 0)

    /// Empty storage, sized by the first `RaBitQCodec.prepare`.
    public init() {}

    mutating func reserve(paddedDimension n: Int, words: Int, bits: Int) {
        if rotated.count != n { rotated = [Float](repeating: 0, count: n) }
        if planes.count != words * bits { planes = [UInt64](repeating: 0, count: words * bits) }
    }

    /// Writes the lower and upper distance bounds of `count` entries at `rows` (each
    /// `entryBytes`) into `lower` and `upper`. `base` is the list's term (squared distance from
    /// the query to the centroid for l2, −⟨q, c⟩ for inner product) and `margin` ε₀‖q − c‖.
    @inlinable
    public func bounds(
        rows: UnsafeRawPointer,
        entryBytes: Int,
        count: Int,
        base: Float,
        margin: Float,
        lower: UnsafeMutablePointer<Float>,
        upper: UnsafeMutablePointer<Float>
    ) {
        planes.withUnsafeBufferPointer { planes in
            swann_rabitq_bounds(rows, entryBytes, count, planes.baseAddress!, words, bits, parameters, base, margin, lower, upper)
        }
    }
}

extension RaBitQCodec {
    /// The posting entries of one list: `members`' rows of `vectors` (float32), each encoded
    /// against `centroid`, `entryBytes` apiece in member order.
    public func encodeList(
        members: UnsafeBufferPointer<UInt32>,
        vectors: VectorMatrix,
        centroid: UnsafePointer<Float>,
        metric: Metric
    ) -> [UInt8] {
        precondition(vectors.elementType == .float32 && vectors.dimension == dimension, "RaBitQ encodes float32 rows of its dimension")
        var bytes = [UInt8](repeating: 0, count: members.count * entryBytes)
        var rotatedCentroid = [Float](repeating: 0, count: paddedDimension)
        var scratch = [Float](repeating: 0, count: paddedDimension)
        rotatedCentroid.withUnsafeMutableBufferPointer { rotatedCentroid in
            rotate(centroid, into: rotatedCentroid.baseAddress!)
            scratch.withUnsafeMutableBufferPointer { scratch in
                bytes.withUnsafeMutableBytes { out in
                    for (i, member) in members.enumerated() {
                        encode(
                            vector: vectors.row(Int(member)).assumingMemoryBound(to: Float.self),
                            centroid: centroid,
                            rotatedCentroid: rotatedCentroid.baseAddress!,
                            metric: metric,
                            scratch: scratch.baseAddress!,
                            into: out.baseAddress! + i * entryBytes
                        )
                    }
                }
            }
        }
        return bytes
    }
}

@_spi(Engine) public import SwannCore
public import SwannStorage

/// Exact k-nearest neighbours of a query file against a base file: the ground truth that
/// recall is measured against.
public enum GroundTruth {
    /// What a ground-truth run did, for reporting.
    public struct Report: Sendable {
        /// Queries searched.
        public var queries: Int
        /// Base vectors compared with each query.
        public var baseVectors: Int
        /// Wall-clock seconds.
        public var seconds: Double
    }

    /// Scans `base` in chunks of at most `chunkBytes` bytes (so a base larger than memory works)
    /// and returns the exact `k` nearest rows of every query.
    /// - Throws: `VectorFileError` for unreadable files, `GroundTruthError` for a dimension mismatch.
    public static func compute(
        base: VectorFile,
        queries: VectorFile,
        k: Int,
        metric: Metric,
        threads: Int = Parallel.coreCount,
        chunkBytes: Int = 256 << 20
    ) throws -> (NeighborTable, Report) {
        guard base.dimension == queries.dimension else {
            throw GroundTruthError.dimensionMismatch(base: base.dimension, queries: queries.dimension, queriesPath: queries.path)
        }
        let start = ContinuousClock.now
        let queryMatrix = try queries.readVectors()
        guard let baseType = base.layout.scalar.elementType else {
            throw VectorFileError(
                .wrongScalarType,
                path: base.path,
                expected: "vectors of float32, float16, int8 or uint8",
                found: "int32 components (an id or ground-truth file)"
            )
        }
        let search = ExactSearch(queries: queryMatrix, baseElementType: baseType, k: k, metric: metric, threads: threads)
        let rowBytes = base.dimension * base.layout.scalar.byteWidth
        try base.forEachChunk(rowsPerChunk: max(1, chunkBytes / rowBytes)) { chunk, first in
            search.add(chunk, firstID: Int64(first))
        }
        let elapsed = start.duration(to: .now)
        let seconds = elapsed.seconds
        return (search.result(), Report(queries: queryMatrix.count, baseVectors: base.count, seconds: seconds))
    }
}

/// Ground truth could not be computed from the given files.
public enum GroundTruthError: Error, CustomStringConvertible, Equatable {
    case dimensionMismatch(base: Int, queries: Int, queriesPath: String)

    /// A one-line description for logs and error messages.
    public var description: String {
        switch self {
        case .dimensionMismatch(let base, let queries, let path):
            "\(path): query dimension \(queries) does not match the base dimension \(base)"
        }
    }
}

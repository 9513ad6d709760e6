@_spi(Engine) public import SwannCore
import SwannStorage

extension Index {
    /// The parameters a search with `overrides` runs with: the index's defaults with the
    /// overrides applied, a `targetRecall` turned into a list budget by the build's calibration
    /// (`IndexManifest.recallCalibration`), and every field checked.
    /// - Throws: `SearchError.Code.invalidParameters` for a field out of range, a target recall
    ///   given with `maxPostings`, or one asked of an index built without a calibration.
    public func parameters(_ overrides: SearchParameters.Overrides) throws(SearchError) -> SearchParameters {
        var parameters = overrides.applied(to: defaultParameters)
        if let target = overrides.targetRecall {
            guard overrides.maxPostings == nil else {
                throw SearchError(.invalidParameters, "give target_recall or max_postings, not both")
            }
            parameters.maxPostings = try maxPostings(forTargetRecall: target)
        }
        do { try parameters.validate() } catch { throw SearchError(.invalidParameters, error.message) }
        return parameters
    }

    /// The default parameters with the list budget that reached `target` recall@10 on the
    /// build's sample (docs/PARAMETERS.md, "Target recall").
    /// - Throws: as `parameters(_:)`.
    public func parameters(targetRecall target: Double) throws(SearchError) -> SearchParameters {
        try parameters(SearchParameters.Overrides(targetRecall: target))
    }

    private func maxPostings(forTargetRecall target: Double) throws(SearchError) -> Int {
        guard target > 0, target <= 1 else {
            throw SearchError(.invalidParameters, "target recall \(target) is outside (0, 1]")
        }
        guard let calibration = manifest.recallCalibration, !calibration.points.isEmpty else {
            throw SearchError(
                .invalidParameters,
                "\(path) has no recall calibration (built before Swann measured one, or with --calibration-queries 0): rebuild it, or give max_postings"
            )
        }
        return calibration.maxPostings(forTargetRecall: target)
    }

    /// Measures recall@10 by list budget on `queries` — a sample of the queries the index will
    /// answer, which calibrates `targetRecall` better than the build's sample of its own vectors
    /// when queries come from another distribution — and stores it in the manifest of the index
    /// at `path` in place of the build's (`swann calibrate`). Exact neighbours come from an
    /// exhaustive search of the index; a server reads the new table at its next reload.
    /// - Throws: `IndexError` for a missing or unwritable index, `SearchError` for queries it
    ///   refuses or an index of more than 100,000 centroids.
    @discardableResult
    public static func calibrateRecall(at path: String, queries: VectorMatrix, threads: Int = Parallel.coreCount) throws -> RecallCalibration {
        let index = try Index.open(at: path)
        let calibration = try RecallCalibrator(queries: queries.count, threads: threads).calibrate(index, queries: queries)
        var manifest = index.manifest
        manifest.recallCalibration = calibration
        try IndexWriter.replaceManifest(in: path, with: manifest)
        return calibration
    }
}

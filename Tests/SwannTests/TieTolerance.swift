import Swann

/// Positions where two exact k-NN answers name different ids although the distances differ by
/// more than float rounding: true disagreements, not ties.
func disagreements(_ got: NeighborTable, _ truth: NeighborTable, queries: VectorMatrix, base: VectorMatrix, k: Int) -> [String] {
    var problems: [String] = []
    for q in 0..<got.queryCount {
        let query = queries.floats(at: q).map(Double.init)
        func distance(_ id: Int64) -> Double {
            zip(query, base.floats(at: Int(id))).reduce(0) { $0 + ($1.0 - Double($1.1)) * ($1.0 - Double($1.1)) }
        }
        for j in 0..<k where got.ids[q * got.k + j] != truth.ids[q * truth.k + j] {
            let a = distance(got.ids[q * got.k + j]), b = distance(truth.ids[q * truth.k + j])
            if abs(a - b) > 1e-5 * max(1, b) { problems.append("query \(q) rank \(j): \(a) vs \(b)") }
        }
    }
    return problems
}

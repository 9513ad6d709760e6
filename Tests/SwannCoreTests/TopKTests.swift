@_spi(Engine) import SwannCore
import Testing

struct TopKTests {
    @Test func keepsTheSmallestInOrderOverManySeeds() {
        for seed in UInt64(0)..<200 {
            var rng = SplitMix64(seed: seed)
            let k = Int(rng.next() % 20) + 1
            let count = Int(rng.next() % 100)
            var heap = TopK(k: k)
            var all: [Neighbor] = []
            for id in 0..<count {
                let d = Float(rng.next() % 50)  // many ties
                heap.insert(d, id: Int64(id))
                all.append(Neighbor(id: Int64(id), distance: d))
            }
            let want = all.sorted { ($0.distance, $0.id) < ($1.distance, $1.id) }.prefix(k)
            #expect(heap.sorted() == Array(want), "seed \(seed)")
            #expect(heap.count == min(k, count))
        }
    }

    @Test func thresholdIsTheKthDistance() {
        var heap = TopK(k: 2)
        #expect(heap.threshold == .infinity)
        heap.insert(5, id: 0)
        heap.insert(3, id: 1)
        #expect(heap.threshold == 5)
        let rejected = heap.insert(6, id: 2)
        let accepted = heap.insert(4, id: 3)
        #expect(!rejected)
        #expect(accepted)
        #expect(heap.threshold == 4)
    }
}

struct SeenSetTests {
    @Test func insertsOnceAndForgetsOnlyWhatItSet() {
        var seen = SeenSet(capacity: 10_000)
        var rng = SplitMix64(seed: 3)
        for round in 0..<5 {
            let ids = (0..<2_000).map { _ in Int(rng.next() % 10_000) }
            var reference = Set<Int>()
            for id in ids { #expect(seen.insert(id) == reference.insert(id).inserted, "round \(round) id \(id)") }
            for id in 0..<10_000 where seen.contains(id) != reference.contains(id) { Issue.record("id \(id) disagrees") }
            seen.removeAll()
            #expect((0..<10_000).allSatisfy { !seen.contains($0) })
        }
        #expect(seen.insert(9_999) && !seen.insert(9_999))
    }
}

import Foundation

/// Paths into the example shipped with the repository (Tools/data/minilm-10k): the first
/// 10,000 base vectors and 1,000 queries of minilm-100k as float16, with texts and exact top-100.
enum BundledExample {
    static let directory: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent("Tools/data/minilm-10k")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
        }
        fatalError("Tools/data/minilm-10k not found above \(#filePath)")
    }()
    static var base: String { directory + "/base.npy" }
    static var queries: String { directory + "/queries.npy" }
    static var truth: String { directory + "/gt100.ivecs" }
}

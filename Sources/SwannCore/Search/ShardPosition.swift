/// Which part of a sharded collection an index holds: shard `index` of `count` (`swann build
/// --shard i/N`); 0 of 1 for an unsharded index.
public struct ShardPosition: Sendable, Codable, Equatable {
    /// This shard's number, in `0..<count`.
    public var index: Int
    /// How many shards the collection has.
    public var count: Int

    /// Shard `index` of `count`.
    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }
}

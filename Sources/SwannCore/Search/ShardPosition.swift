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

    /// The shard of `count` that owns the vector with id `id`: `id % count`. `swann build
    /// --shard i/N` keeps the rows whose id (the row number without `--ids`) this gives `i` for,
    /// shard servers refuse writes of ids they do not own, and `swann route` sends each write to
    /// the owner, so builds and writes always agree.
    public static func owner(of id: UInt64, shardCount count: Int) -> Int {
        Int(id % UInt64(count))
    }

    /// Whether this shard owns the vector with id `id`.
    public func owns(_ id: UInt64) -> Bool {
        Self.owner(of: id, shardCount: count) == index
    }
}

import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs independent work items on a fixed number of threads.
///
/// `DispatchQueue.concurrentPerform` alone sizes itself to the machine; this wrapper lets a
/// caller cap the thread count (`--threads`) while items are handed out dynamically through an
/// atomic counter, so uneven items still balance.
@usableFromInline
package enum Parallel {
    /// The number of online CPU cores (at least 1).
    @usableFromInline
    package static var coreCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Calls `body(item)` once for every item in `0..<items`, on up to `threads` threads.
    /// `body` must be safe to call concurrently for different items.
    package static func forEach(items: Int, threads: Int, _ body: (Int) -> Void) {
        guard items > 0 else { return }
        let workers = max(1, min(threads, items))
        if workers == 1 {
            for item in 0..<items { body(item) }
            return
        }
        let next = Atomic<Int>(0)
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while true {
                    let item = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard item < items else { return }
                    box.value(item)
                }
            }
        }
    }
}

/// Carries a value across a concurrency boundary whose safety the caller has established
/// (disjoint writes into one buffer, for example).
package struct UncheckedSendable<Value>: @unchecked Sendable {
    package let value: Value
    package init(_ value: Value) { self.value = value }
}

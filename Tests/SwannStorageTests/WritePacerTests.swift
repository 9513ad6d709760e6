import SwannStorage
import Testing

/// `WritePacer`: a checkpoint's writes held to a byte rate, on a fake clock.
struct WritePacerTests {
    /// A clock that moves only when the pacer sleeps or a write is said to take time.
    final class FakeClock {
        var now = ContinuousClock.now
        var sleeps: [Duration] = []

        /// A pacer that reads this clock and, asleep, moves it on.
        func pacer(bytesPerSecond: Int) -> WritePacer {
            WritePacer(
                bytesPerSecond: bytesPerSecond,
                now: { self.now },
                sleep: {
                    self.sleeps.append($0)
                    self.now += $0
                }
            )
        }
    }

    @Test func writesAheadOfTheBudgetSleepUntilTheyAreDue() {
        let clock = FakeClock()
        let start = clock.now
        let pacer = clock.pacer(bytesPerSecond: 4 << 20)
        // Ten 1 MiB writes that take no time: each is due a quarter of a second after the last.
        for _ in 0..<10 { pacer.wrote(1 << 20) }
        #expect(clock.now - start == .milliseconds(2_500))
        #expect(pacer.sleptFor == .milliseconds(2_500))
        #expect(clock.sleeps.count == 10)
    }

    @Test func writesSlowerThanTheBudgetNeverSleep() {
        let clock = FakeClock()
        let pacer = clock.pacer(bytesPerSecond: 4 << 20)
        pacer.wrote(1 << 20)  // the first write starts the clock: due 0.25 s later
        clock.sleeps.removeAll()
        for _ in 0..<8 {
            clock.now += .milliseconds(300)  // a disk slower than the budget
            pacer.wrote(1 << 20)
        }
        #expect(clock.sleeps.isEmpty)
    }

    @Test func aBurstAfterAPauseIsHeldToTheAverage() {
        let clock = FakeClock()
        let start = clock.now
        let pacer = clock.pacer(bytesPerSecond: 1 << 20)
        pacer.wrote(1)
        clock.now += .seconds(2)  // idle: 2 MiB of budget unused
        for _ in 0..<4 { pacer.wrote(1 << 20) }
        // 4 MiB + 1 byte at 1 MiB/s: due just after 4 s from the start, however it was spread.
        #expect(clock.now - start >= .seconds(4))
        #expect(clock.now - start < .milliseconds(4_001))
    }
}

import CProcess

/// Runs `body` with SIGINT, SIGTERM and SIGHUP held until it returns, then
/// delivers any that arrived: an atomic write (temporary directory, then
/// rename) is never left half done by Ctrl-C.
public func withInterruptsDeferred<T>(_ body: () throws -> T) rethrows -> T {
    gc_interrupts_begin(0)
    defer { gc_interrupts_end() }
    return try body()
}

/// Runs long work that polls `interruptRequested()` and stops cleanly (cleaning
/// up its temporary files) instead of being killed mid-way.
public func withInterruptsPolled<T>(_ body: () throws -> T) rethrows -> T {
    gc_interrupts_begin(1)
    defer { gc_interrupts_end() }
    return try body()
}

/// The signal number that asked a polled region to stop, or nil.
public func interruptRequested() -> Int32? {
    let s = gc_stop_requested()
    return s == 0 ? nil : s
}

/// Thrown by long work that stopped because of a signal.
public struct Interrupted: Error, CustomStringConvertible {
    public let signal: Int32
    public init(signal: Int32) { self.signal = signal }
    public var description: String { "interrupted by signal \(signal); the last complete output was kept" }
}

package io.nthlb.proxy;

/**
 * Hears one relayed connection's events, on that connection's event loop; returned by
 * {@link RelayObserver#accepted}. Every method defaults to doing nothing and must not block.
 */
public interface ConnectionObserver {

    /** The observer that hears nothing. */
    ConnectionObserver NONE = new ConnectionObserver() {
    };

    /** The connection to the backend is being attempted. */
    default void connecting() {
    }

    /** The backend accepted; bytes start to flow. */
    default void connected() {
    }

    /** The backend could not be reached: {@code ending} is refused, unreachable or timeout. */
    default void connectFailed(Ending ending) {
    }

    /**
     * nthlb could not open the connection to the backend itself ({@code why}); the connection ends
     * {@link Ending#LOCAL_ERROR}, and {@link #connectFailed} is not called: the backend is not at fault.
     */
    default void connectFailedLocally(LocalFailure why) {
    }

    /**
     * The connection gave this backend up for another (a retry after a failed connect): this observer hears
     * nothing more, and the one {@link RelayObserver#rerouted} returns hears the rest.
     */
    default void abandoned() {
    }

    /** Bytes read in one read batch and passed on. */
    default void bytesRelayed(Direction direction, long bytes) {
    }

    /**
     * Reading in {@code direction} stopped because the side it writes to cannot keep up (its write buffer
     * passed the high watermark); it resumes when that buffer drains below the low watermark.
     */
    default void readingPaused(Direction direction) {
    }

    /** The connection ended; its byte counts and {@link Connection#ending()} are final. */
    default void ended(Connection connection) {
    }
}

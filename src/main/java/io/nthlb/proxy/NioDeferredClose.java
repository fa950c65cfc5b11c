package io.nthlb.proxy;

import io.netty.channel.Channel;
import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoRegistration;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.ThreadAwareExecutor;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * NIO's I/O handler, which can also run a task once a closed channel's descriptor is really closed. The JDK
 * does not close the socket of a channel registered with a selector when the channel is closed: the descriptor
 * stays open until that selector next selects, after the channel's key was cancelled. A connection's slot of
 * the connection limit goes back through {@link #afterClose}; returned at the close, a burst of closes on one
 * event loop would let new connections take slots whose descriptors are still open, and out of descriptors
 * they would be reset.
 */
final class NioDeferredClose implements IoHandler {

    /** The handler of the event loop running on this thread, if it is one of these. */
    private static final ThreadLocal<NioDeferredClose> CURRENT = new ThreadLocal<>();

    private final IoHandler nio;
    /** Channels closed on this event loop whose descriptors may still be open. Touched on the loop only. */
    private final ArrayDeque<Closed> closed = new ArrayDeque<>();

    private NioDeferredClose(IoHandler nio) {
        this.nio = nio;
    }

    /** NIO's handler factory, making these. */
    static IoHandlerFactory factory() {
        IoHandlerFactory nio = NioIoHandler.newFactory();
        return new IoHandlerFactory() {
            @Override
            public IoHandler newHandler(ThreadAwareExecutor executor) {
                return new NioDeferredClose(nio.newHandler(executor));
            }

            @Override
            public boolean isChangingThreadSupported() {
                return nio.isChangingThreadSupported();
            }
        };
    }

    /**
     * Runs {@code task} once the descriptor of {@code channel}, closed, is closed too: after the next select of its
     * event loop that follows the channel's deregistration. Called on the channel's event loop (where its close
     * future's listeners run); on any other thread (any transport but NIO) the task runs at once.
     */
    static void afterClose(Channel channel, Runnable task) {
        NioDeferredClose handler = CURRENT.get();
        if (handler == null) {
            task.run();
            return;
        }
        handler.closed.add(new Closed(channel, task));
    }

    @Override
    public void initialize() {
        CURRENT.set(this);
        nio.initialize();
    }

    @Override
    public int run(IoHandlerContext context) {
        if (closed.isEmpty()) {
            return nio.run(context);
        }
        // A channel no longer registered has its key cancelled: this run's select closes its descriptor. That
        // select must not block, or the slot would wait for the next event on this loop.
        List<Runnable> due = new ArrayList<>();
        for (Iterator<Closed> i = closed.iterator(); i.hasNext(); ) {
            Closed c = i.next();
            if (!c.channel.isRegistered()) {
                due.add(c.task);
                i.remove();
            }
        }
        int handled = nio.run(due.isEmpty() ? context : new NonBlocking(context));
        due.forEach(Runnable::run);
        return handled;
    }

    @Override
    public void prepareToDestroy() {
        nio.prepareToDestroy();
    }

    @Override
    public void destroy() {
        nio.destroy();
        // The loop is gone: nothing will select again, and the descriptors are closed with the selector.
        closed.forEach(c -> c.task.run());
        closed.clear();
        CURRENT.remove();
    }

    @Override
    public IoRegistration register(IoHandle handle) throws Exception {
        return nio.register(handle);
    }

    @Override
    public void wakeup() {
        nio.wakeup();
    }

    @Override
    public boolean isCompatible(Class<? extends IoHandle> handleType) {
        return nio.isCompatible(handleType);
    }

    private record Closed(Channel channel, Runnable task) {
    }

    /** The loop's context, except that the select may not wait. */
    private record NonBlocking(IoHandlerContext context) implements IoHandlerContext {
        @Override
        public boolean canBlock() {
            return false;
        }

        @Override
        public long delayNanos(long currentTimeNanos) {
            return context.delayNanos(currentTimeNanos);
        }

        @Override
        public long deadlineNanos() {
            return context.deadlineNanos();
        }

        @Override
        public void reportActiveIoTime(long activeNanos) {
            context.reportActiveIoTime(activeNanos);
        }

        @Override
        public boolean shouldReportActiveIoTime() {
            return context.shouldReportActiveIoTime();
        }
    }
}

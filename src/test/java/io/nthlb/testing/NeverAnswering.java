package io.nthlb.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

/**
 * A backend that never answers: a listener on 127.0.0.1 whose accept queue is full, so the kernel drops new
 * SYNs to it and a connect to it never completes (until the connect timeout).
 */
public final class NeverAnswering implements AutoCloseable {

    private final ServerSocket full;
    private final List<Socket> fillers = new ArrayList<>();

    /** Opens the listener and fills its queue. */
    public NeverAnswering() throws IOException {
        full = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        try {
            fill();
        } catch (IOException | RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    private void fill() throws IOException {
        for (int i = 0; i < 16; i++) {
            Socket s = new Socket();
            fillers.add(s);
            try {
                s.connect(full.getLocalSocketAddress(), 200);
            } catch (IOException queueFull) {
                return;
            }
        }
        throw new AssertionError("the accept queue never filled");
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) full.getLocalSocketAddress();
    }

    @Override
    public void close() throws IOException {
        for (Socket s : fillers) {
            s.close();
        }
        full.close();
    }
}

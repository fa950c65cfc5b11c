package io.nthlb.testing;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A UDP backend on 127.0.0.1: answers every datagram with its name, a colon and the datagram's text, from its
 * own address, and remembers where each datagram came from (the flow's socket on nthlb's side).
 */
public final class UdpEchoBackend implements AutoCloseable {

    private final String name;
    private final DatagramSocket socket;
    private final Thread thread;
    private final List<SocketAddress> senders = new CopyOnWriteArrayList<>();

    private UdpEchoBackend(String name, DatagramSocket socket) {
        this.name = name;
        this.socket = socket;
        this.thread = new Thread(this::serve, "udp-backend-" + name);
        thread.setDaemon(true);
        thread.start();
    }

    /** A backend named {@code name} on a port of 127.0.0.1 the kernel chooses. */
    public static UdpEchoBackend start(String name) throws IOException {
        return new UdpEchoBackend(name, new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)));
    }

    public int port() {
        return socket.getLocalPort();
    }

    /** The source of each datagram received, in order. */
    public List<SocketAddress> senders() {
        return List.copyOf(senders);
    }

    private void serve() {
        byte[] buffer = new byte[65536];
        while (!socket.isClosed()) {
            DatagramPacket in = new DatagramPacket(buffer, buffer.length);
            try {
                socket.receive(in);
                senders.add(in.getSocketAddress());
                byte[] answer = (name + ":" + new String(in.getData(), 0, in.getLength(), StandardCharsets.UTF_8))
                        .getBytes(StandardCharsets.UTF_8);
                socket.send(new DatagramPacket(answer, answer.length, in.getSocketAddress()));
            } catch (SocketException e) {
                return; // closed
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        socket.close();
        thread.join(5000);
    }
}

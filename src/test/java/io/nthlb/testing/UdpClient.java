package io.nthlb.testing;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

/**
 * A UDP client on 127.0.0.1 with a port of its own: to nthlb (and to conntrack) a new flow. An answer is waited
 * for at most 10 s.
 */
public final class UdpClient implements AutoCloseable {

    private final DatagramSocket socket;

    private UdpClient(DatagramSocket socket) {
        this.socket = socket;
    }

    /** A client on 127.0.0.1 and a port the kernel chooses. */
    public static UdpClient onLoopback() throws IOException {
        DatagramSocket socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        socket.setSoTimeout(10_000);
        return new UdpClient(socket);
    }

    /** The client's own port. */
    public int port() {
        return socket.getLocalPort();
    }

    public void send(InetSocketAddress to, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        socket.send(new DatagramPacket(bytes, bytes.length, to));
    }

    /** Sends {@code text} to {@code to} and returns the answer, whatever address it comes from. */
    public Answer exchange(InetSocketAddress to, String text) throws IOException {
        send(to, text);
        DatagramPacket answer = new DatagramPacket(new byte[65536], 65536);
        try {
            socket.receive(answer);
        } catch (SocketTimeoutException e) {
            throw new AssertionError("no answer to " + text + " within 10 s", e);
        }
        return new Answer(new String(answer.getData(), 0, answer.getLength(), StandardCharsets.UTF_8),
                answer.getSocketAddress());
    }

    /** An answer's text and the address it came from. */
    public record Answer(String text, SocketAddress from) {
    }

    @Override
    public void close() {
        socket.close();
    }
}

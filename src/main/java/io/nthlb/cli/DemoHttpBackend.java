package io.nthlb.cli;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.nthlb.proxy.ListenException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * One of the demo's two backends: a tiny HTTP/1.1 server that answers every request with a one-line body
 * naming itself and closes the connection, so each {@code curl} is a new TCP connection for nthlb to balance.
 *
 * <p>It reads only up to the blank line that ends the request head; a request body, if any, is ignored.
 * That is all {@code curl http://127.0.0.1:8080/} needs, and it keeps the demo free of an HTTP codec.
 */
final class DemoHttpBackend implements AutoCloseable {

    private final String name;
    private final Channel channel;

    private DemoHttpBackend(String name, Channel channel) {
        this.name = name;
        this.channel = channel;
    }

    /**
     * Starts backend {@code name} on {@code address}.
     *
     * @throws ListenException when the address cannot be bound
     */
    static DemoHttpBackend start(String name, InetSocketAddress address, EventLoopGroup group) {
        byte[] body = ("Hello from backend " + name + "\n").getBytes(StandardCharsets.US_ASCII);
        byte[] head = ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + body.length
                + "\r\nConnection: close\r\nX-Backend: " + name + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        ByteBuf response = Unpooled.unreleasableBuffer(Unpooled.directBuffer(head.length + body.length)
                .writeBytes(head).writeBytes(body).asReadOnly());
        var bound = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new Responder(response));
                    }
                })
                .bind(address).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            throw ListenException.of(address, bound.cause());
        }
        return new DemoHttpBackend(name, bound.channel());
    }

    String name() {
        return name;
    }

    InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly();
    }

    /** Waits for the end of the request head (CR LF CR LF), answers, and closes. */
    private static final class Responder extends ChannelInboundHandlerAdapter {
        private static final byte[] END_OF_HEAD = {'\r', '\n', '\r', '\n'};
        private final ByteBuf response;
        /** How much of END_OF_HEAD the bytes read so far end with; the head may arrive in pieces. */
        private int matched;
        private boolean answered;

        Responder(ByteBuf response) {
            this.response = response;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf in = (ByteBuf) msg;
            try {
                while (!answered && in.isReadable()) {
                    byte b = in.readByte();
                    matched = b == END_OF_HEAD[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
                    if (matched == END_OF_HEAD.length) {
                        answered = true;
                        ctx.writeAndFlush(response.duplicate()).addListener(ChannelFutureListener.CLOSE);
                    }
                }
            } finally {
                in.release();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}

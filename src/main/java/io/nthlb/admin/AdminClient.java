package io.nthlb.admin;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;

/** The client side of the admin endpoint, for {@code nthlb list}, {@code save} and {@code reload}. */
public final class AdminClient {

    /** An answer from the endpoint: the HTTP status and the body as text. */
    public record Response(int status, String body) {
    }

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** A reload parses and compiles the whole file and may open listeners; give it room. */
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(60);

    private final AdminAddress address;
    private final HttpClient http;

    public AdminClient(AdminAddress address) {
        this.address = address;
        this.http = HttpClient.newBuilder()
                .connectTimeout(CONNECT_TIMEOUT)
                .version(HttpClient.Version.HTTP_1_1)
                .build();
    }

    /**
     * {@code GET} a path with its query, such as {@code /rules?x}.
     *
     * @throws AdminUnreachableException when nothing answers at the address
     */
    public Response get(String pathAndQuery) {
        return send(HttpRequest.newBuilder(uri(pathAndQuery)).GET());
    }

    /**
     * {@code POST} with an empty body and the header {@code POST /reload} requires, which tells the endpoint
     * that no web page sent it (a cross-site form cannot add headers).
     */
    public Response post(String path) {
        return send(HttpRequest.newBuilder(uri(path)).header(AdminServer.RELOAD_HEADER, "1")
                .POST(HttpRequest.BodyPublishers.noBody()));
    }

    private Response send(HttpRequest.Builder request) {
        try {
            HttpResponse<String> response = http.send(request.timeout(REQUEST_TIMEOUT).build(),
                    HttpResponse.BodyHandlers.ofString());
            return new Response(response.statusCode(), response.body());
        } catch (ConnectException e) {
            throw new AdminUnreachableException("no admin endpoint at " + address
                    + " (is nthlb run running there? its --admin option says where it listens)", e);
        } catch (HttpTimeoutException e) {
            throw new AdminUnreachableException("the admin endpoint at " + address + " did not answer in time", e);
        } catch (IOException e) {
            throw new AdminUnreachableException("talking to the admin endpoint at " + address + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AdminUnreachableException("interrupted while talking to " + address, e);
        }
    }

    private URI uri(String pathAndQuery) {
        return URI.create("http://" + address.authority() + pathAndQuery);
    }
}

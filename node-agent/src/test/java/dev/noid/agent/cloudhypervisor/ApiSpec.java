package dev.noid.agent.cloudhypervisor;

import com.atlassian.oai.validator.OpenApiInteractionValidator;
import com.atlassian.oai.validator.model.Request;
import com.atlassian.oai.validator.model.SimpleRequest;
import com.atlassian.oai.validator.model.SimpleResponse;
import com.atlassian.oai.validator.report.LevelResolver;
import com.atlassian.oai.validator.report.ValidationReport;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Cloud Hypervisor's openapi.yaml (test resources, see its README) as a validator of requests
 * and answers. The one relaxation is NOTES.md's: the real server answers 500 for a wrong state
 * where the spec documents 405, so undocumented statuses are not errors; their bodies are still
 * checked by the fake itself (a JSON array of strings).
 */
final class ApiSpec {
  static final String BASE_PATH = "/api/v1";
  private final OpenApiInteractionValidator validator;

  ApiSpec() {
    String yaml;
    try (InputStream in = ApiSpec.class.getResourceAsStream("/cloud-hypervisor/openapi.yaml")) {
      yaml = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    validator = OpenApiInteractionValidator.createForInlineApiSpecification(yaml)
        .withBasePathOverride(BASE_PATH)
        .withLevelResolver(LevelResolver.create()
            .withLevel("validation.response.status.unknown", ValidationReport.Level.IGNORE)
            .build())
        .build();
  }

  /** The problems the spec finds with a request; empty when it is valid. */
  List<String> checkRequest(String method, String path, String contentType, byte[] body) {
    SimpleRequest.Builder b = new SimpleRequest.Builder(method, path);
    if (body != null && body.length > 0) {
      b.withBody(new String(body, StandardCharsets.UTF_8));
    }
    if (contentType != null) {
      b.withContentType(contentType);
    }
    return messages(validator.validateRequest(b.build()));
  }

  /** The problems the spec finds with an answer the fake is about to give. */
  List<String> checkResponse(String method, String path, int status, byte[] body) {
    SimpleResponse.Builder b = new SimpleResponse.Builder(status);
    if (body.length > 0) {
      b.withBody(new String(body, StandardCharsets.UTF_8)).withContentType("application/json");
    }
    return messages(validator.validateResponse(path, Request.Method.valueOf(method), b.build()));
  }

  private static List<String> messages(ValidationReport report) {
    return report.getMessages().stream()
        .filter(m -> m.getLevel() == ValidationReport.Level.ERROR)
        .map(m -> m.getKey() + ": " + m.getMessage() + m.getContext()
            .flatMap(ValidationReport.MessageContext::getPointers)
            .map(p -> " (at " + p.getInstance() + ")").orElse(""))
        .toList();
  }
}

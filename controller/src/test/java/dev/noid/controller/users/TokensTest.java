package dev.noid.controller.users;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullAndEmptySource;
import org.junit.jupiter.params.provider.ValueSource;

class TokensTest {
  private static final String HEX_64 =
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

  @Test
  void generatedTokenIsThePrefixAnd64LowercaseHexCharacters() {
    String token = Tokens.generate();

    assertThat(token).matches("noid_tok_[0-9a-f]{64}");
    assertThat(Tokens.wellFormed(token)).isTrue();
  }

  @Test
  void generatedTokensDiffer() {
    Set<String> tokens = new HashSet<>();
    for (int i = 0; i < 100; i++) {
      tokens.add(Tokens.generate());
    }

    assertThat(tokens).hasSize(100);
  }

  @Test
  void wellFormedAcceptsThePrefixWith64LowercaseHex() {
    assertThat(Tokens.wellFormed("noid_tok_" + HEX_64)).isTrue();
  }

  @ParameterizedTest
  @NullAndEmptySource
  @ValueSource(strings = {
      "noid_tok_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
      "noid_tok_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
      "noid_tok_0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
      "noid_tok_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
      "noid_key_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      " noid_tok_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      "noid_tok_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"})
  void wellFormedRejects(String token) {
    assertThat(Tokens.wellFormed(token)).isFalse();
  }

  @Test
  void sha256IsThe64LowercaseHexDigest() {
    // FIPS 180-2 test vector
    assertThat(Tokens.sha256("abc"))
        .isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assertThat(Tokens.sha256(Tokens.generate())).matches("[0-9a-f]{64}");
  }

  @Test
  void sha256DiffersForDifferentTokens() {
    assertThat(Tokens.sha256("noid_tok_" + HEX_64))
        .isNotEqualTo(Tokens.sha256("noid_tok_" + HEX_64.replace('f', 'e')));
  }

  @Test
  void sameHashIsTrueOnlyForEqualDigests() {
    String a = Tokens.sha256("a");
    String b = Tokens.sha256("b");

    assertThat(Tokens.sameHash(a, new String(a.toCharArray()))).isTrue();
    assertThat(Tokens.sameHash(a, b)).isFalse();
    assertThat(Tokens.sameHash(a, a.substring(0, 63))).isFalse();
    assertThat(Tokens.sameHash(a, "")).isFalse();
  }

  @Test
  void displayPrefixIsThePrefixAndThreeHexCharacters() {
    assertThat(Tokens.displayPrefix("noid_tok_" + HEX_64)).isEqualTo("noid_tok_012");
    assertThat(Tokens.displayPrefix("short")).isEqualTo("short");
  }
}

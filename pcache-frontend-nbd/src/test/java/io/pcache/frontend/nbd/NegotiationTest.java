package io.pcache.frontend.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.BlockDevice.Feature;
import io.pcache.frontend.nbd.Negotiation.Action;
import io.pcache.frontend.nbd.Negotiation.Outcome;
import io.pcache.frontend.nbd.RawClient.OptReply;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The handshake matrix: every option, unknown options, TLS modes, structured replies on and off. */
class NegotiationTest {

  private static final MemoryDevice DEVICE = new MemoryDevice("mem", 1 << 20);
  private static final MemoryDevice SMALL = new MemoryDevice("small", 64 << 10, EnumSet.of(Feature.FLUSH));
  private static final int MAX = 32 << 20;
  private static final byte[] NONE = new byte[0];

  /** Every flag a full device gets with structured replies: 0x0ded. */
  static final int FULL_SR = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_FUA | Nbd.FLAG_SEND_TRIM
      | Nbd.FLAG_SEND_WRITE_ZEROES | Nbd.FLAG_SEND_DF | Nbd.FLAG_CAN_MULTI_CONN | Nbd.FLAG_SEND_CACHE
      | Nbd.FLAG_SEND_FAST_ZERO;

  @AfterAll
  static void free() {
    DEVICE.close();
    SMALL.close();
  }

  private static Negotiation negotiation(TlsMode mode) {
    Negotiation n = new Negotiation(List.of(new Export("pcache", "the cache", DEVICE, false),
        new Export("small", "", SMALL, true)), mode, MAX);
    assertEquals(Action.CONTINUE, n.clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES).action());
    return n;
  }

  /** Splits the reply bytes into option replies. */
  static List<OptReply> replies(Outcome o) {
    ByteBuffer b = o.reply().duplicate();
    List<OptReply> all = new ArrayList<>();
    while (b.hasRemaining()) {
      assertEquals(Nbd.OPTION_REPLY_MAGIC, b.getLong());
      int option = b.getInt();
      int type = b.getInt();
      byte[] data = new byte[b.getInt()];
      b.get(data);
      all.add(new OptReply(option, type, data));
    }
    return all;
  }

  private static List<Integer> types(Outcome o) {
    return replies(o).stream().map(OptReply::type).toList();
  }

  private static int singleError(Outcome o) {
    List<OptReply> r = replies(o);
    assertEquals(1, r.size(), () -> "replies: " + r);
    assertTrue(r.getFirst().isError());
    return r.getFirst().type();
  }

  @Test
  void clientFlags() {
    Negotiation n = new Negotiation(List.of(new Export("pcache", "", DEVICE, false)), TlsMode.OFF, MAX);
    assertEquals(Action.DISCONNECT, n.clientFlags(4).action(), "unknown flag");
    assertEquals(Action.DISCONNECT, n.clientFlags(0x80000001).action(), "unknown high flag");
    for (int ok : new int[] {0, 1, 2, 3}) {
      assertEquals(Action.CONTINUE, n.clientFlags(ok).action());
    }
    Negotiation tls = new Negotiation(List.of(new Export("pcache", "", DEVICE, false)), TlsMode.REQUIRED, MAX);
    Outcome o = tls.clientFlags(Nbd.FLAG_C_NO_ZEROES);
    assertEquals(Action.DISCONNECT, o.action(), "TLS required needs fixed newstyle");
    assertTrue(o.note().contains("fixed newstyle"), o.note());
  }

  @Test
  void exportNameEntersTransmissionWithOrWithoutZeroes() {
    Negotiation n = negotiation(TlsMode.OFF);
    Outcome o = n.option(Nbd.OPT_EXPORT_NAME, "pcache".getBytes(StandardCharsets.UTF_8), false);
    assertEquals(Action.TRANSMISSION, o.action());
    assertEquals(10, o.reply().remaining(), "NO_ZEROES was agreed");
    assertEquals(DEVICE.size(), o.reply().getLong(0));
    assertEquals(FULL_SR & ~Nbd.FLAG_SEND_DF, Short.toUnsignedInt(o.reply().getShort(8)));

    Negotiation zeroes = new Negotiation(List.of(new Export("pcache", "", DEVICE, false)), TlsMode.OFF, MAX);
    zeroes.clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE);
    assertEquals(134, zeroes.option(Nbd.OPT_EXPORT_NAME, NONE, false).reply().remaining(), "the default export");
    assertEquals("pcache", zeroes.session().export().name());
  }

  @Test
  void exportNameForAnUnknownExportDisconnects() {
    Outcome o = negotiation(TlsMode.OFF).option(Nbd.OPT_EXPORT_NAME, "nope".getBytes(StandardCharsets.UTF_8), false);
    assertEquals(Action.DISCONNECT, o.action());
    assertFalse(o.reply().hasRemaining(), "NBD_OPT_EXPORT_NAME has no error reply");
  }

  @Test
  void abortIsAcknowledged() {
    Outcome o = negotiation(TlsMode.OFF).option(Nbd.OPT_ABORT, new byte[] {1, 2}, false);
    assertEquals(Action.ABORT, o.action());
    assertEquals(List.of(Nbd.REP_ACK), types(o), "data is ignored");
  }

  @Test
  void listNamesEveryExport() {
    Negotiation n = negotiation(TlsMode.OFF);
    Outcome o = n.option(Nbd.OPT_LIST, NONE, false);
    List<OptReply> r = replies(o);
    assertEquals(List.of(Nbd.REP_SERVER, Nbd.REP_SERVER, Nbd.REP_ACK), types(o));
    ByteBuffer first = r.get(0).buf();
    assertEquals(6, first.getInt(0));
    assertEquals("pcachethe cache", new String(r.get(0).data(), 4, r.get(0).data().length - 4, StandardCharsets.UTF_8));
    assertEquals(Nbd.REP_ERR_INVALID, singleError(n.option(Nbd.OPT_LIST, new byte[1], false)));
  }

  @Test
  void infoAnswersWhatWasAskedAndStaysInHandshake() {
    Negotiation n = negotiation(TlsMode.OFF);
    Outcome o = n.option(Nbd.OPT_INFO, RawClient.goData("pcache", Nbd.INFO_NAME, Nbd.INFO_DESCRIPTION,
        Nbd.INFO_BLOCK_SIZE, 77), false);
    assertEquals(Action.CONTINUE, o.action());
    List<OptReply> r = replies(o);
    assertEquals(List.of(Nbd.REP_INFO, Nbd.REP_INFO, Nbd.REP_INFO, Nbd.REP_INFO, Nbd.REP_ACK), types(o));
    assertEquals(12, r.get(0).data().length);
    assertEquals(Nbd.INFO_EXPORT, r.get(0).buf().getShort(0));
    assertEquals(DEVICE.size(), r.get(0).buf().getLong(2));
    assertEquals("pcache", new String(r.get(1).data(), 2, 6, StandardCharsets.UTF_8));
    assertEquals("the cache", new String(r.get(2).data(), 2, 9, StandardCharsets.UTF_8));
    ByteBuffer bs = r.get(3).buf();
    assertEquals(Nbd.INFO_BLOCK_SIZE, bs.getShort(0));
    assertEquals(512, bs.getInt(2));
    assertEquals(4096, bs.getInt(6));
    assertEquals(MAX, bs.getInt(10));
  }

  @Test
  void blockSizeIsSentEvenUnaskedAndDescriptionOnlyWhenThere() {
    Negotiation n = negotiation(TlsMode.OFF);
    Outcome o = n.option(Nbd.OPT_INFO, RawClient.goData("small", Nbd.INFO_DESCRIPTION), false);
    List<OptReply> r = replies(o);
    assertEquals(List.of(Nbd.REP_INFO, Nbd.REP_INFO, Nbd.REP_ACK), types(o), "no empty description");
    assertEquals(Nbd.INFO_BLOCK_SIZE, r.get(1).buf().getShort(0));
  }

  @Test
  void goEntersTransmissionWithTheSameFlagsAsInfo() {
    Negotiation n = negotiation(TlsMode.OFF);
    int infoFlags = Short.toUnsignedInt(replies(n.option(Nbd.OPT_INFO, RawClient.goData(""), false)).getFirst().buf()
        .getShort(10));
    Outcome go = n.option(Nbd.OPT_GO, RawClient.goData(""), false);
    assertEquals(Action.TRANSMISSION, go.action());
    int goFlags = Short.toUnsignedInt(replies(go).getFirst().buf().getShort(10));
    assertEquals(infoFlags, goFlags);
    assertEquals(goFlags, n.session().flags());
    assertFalse(n.session().structured());
    assertEquals(-1, n.session().metaContextId());
  }

  @Test
  void infoAndGoErrors() {
    Negotiation n = negotiation(TlsMode.OFF);
    for (int code : new int[] {Nbd.OPT_INFO, Nbd.OPT_GO}) {
      Outcome unknown = n.option(code, RawClient.goData("nope"), false);
      assertEquals(Nbd.REP_ERR_UNKNOWN, singleError(unknown));
      assertEquals(Action.CONTINUE, unknown.action());
      assertEquals(Nbd.REP_ERR_INVALID, singleError(n.option(code, new byte[5], false)), "too short");
      assertEquals(Nbd.REP_ERR_INVALID, singleError(n.option(code, ByteBuffer.allocate(6).putInt(1).array(), false)),
          "name longer than the data");
      byte[] wrongCount = RawClient.goData("pcache", 1, 2);
      wrongCount[4 + 6 + 1] = 3;
      assertEquals(Nbd.REP_ERR_INVALID, singleError(n.option(code, wrongCount, false)), "count does not match");
      byte[] trailing = java.util.Arrays.copyOf(RawClient.goData("pcache"), 13);
      assertEquals(Nbd.REP_ERR_INVALID, singleError(n.option(code, trailing, false)), "trailing byte");
    }
  }

  @Test
  void structuredRepliesAddDontFragment() {
    Negotiation n = negotiation(TlsMode.OFF);
    assertEquals(List.of(Nbd.REP_ACK), types(n.option(Nbd.OPT_STRUCTURED_REPLY, NONE, false)));
    assertEquals(List.of(Nbd.REP_ACK), types(n.option(Nbd.OPT_STRUCTURED_REPLY, NONE, false)), "idempotent");
    assertEquals(Nbd.REP_ERR_INVALID, singleError(n.option(Nbd.OPT_STRUCTURED_REPLY, new byte[1], false)));
    assertEquals(Action.TRANSMISSION, n.option(Nbd.OPT_GO, RawClient.goData("pcache"), false).action());
    assertTrue(n.session().structured());
    assertEquals(FULL_SR, n.session().flags());
  }

  @Test
  void readOnlyExportAndFeatureSubsets() {
    assertEquals(Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_READ_ONLY | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_CAN_MULTI_CONN,
        new Export("small", "", SMALL, true).transmissionFlags(false));
    assertEquals(Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_READ_ONLY | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_CACHE
        | Nbd.FLAG_CAN_MULTI_CONN | Nbd.FLAG_SEND_DF, new Export("ro", "", DEVICE, true).transmissionFlags(true),
        "read-only drops FUA, TRIM, WRITE_ZEROES and FAST_ZERO");
    try (MemoryDevice bare = new MemoryDevice("bare", 4096, EnumSet.noneOf(Feature.class))) {
      assertEquals(Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_CAN_MULTI_CONN, new Export("none", "", bare, false)
          .transmissionFlags(false), "a device with no optional features");
    }
  }

  @Test
  void listMetaContext() {
    Negotiation n = negotiation(TlsMode.OFF);
    n.option(Nbd.OPT_STRUCTURED_REPLY, NONE, false);
    for (String[] queries : new String[][] {{}, {"base:"}, {"base:allocation"}, {"x-foo:bar", "base:allocation"}}) {
      Outcome o = n.option(Nbd.OPT_LIST_META_CONTEXT, RawClient.metaData("pcache", queries), false);
      List<OptReply> r = replies(o);
      assertEquals(List.of(Nbd.REP_META_CONTEXT, Nbd.REP_ACK), types(o), () -> List.of(queries).toString());
      assertEquals(0, r.getFirst().buf().getInt(0), "ids in LIST replies are zero");
      assertEquals(Nbd.BASE_ALLOCATION, new String(r.getFirst().data(), 4, r.getFirst().data().length - 4,
          StandardCharsets.UTF_8));
    }
    assertEquals(List.of(Nbd.REP_ACK), types(n.option(Nbd.OPT_LIST_META_CONTEXT,
        RawClient.metaData("pcache", "qemu:dirty-bitmap:x", "base:other"), false)), "unknown contexts are ignored");
    assertEquals(Nbd.REP_ERR_UNKNOWN, singleError(n.option(Nbd.OPT_LIST_META_CONTEXT,
        RawClient.metaData("nope"), false)));
  }

  @Test
  void setMetaContextNeedsStructuredRepliesAndSelectsForOneExport() {
    Negotiation n = negotiation(TlsMode.OFF);
    assertEquals(Nbd.REP_ERR_INVALID, singleError(n.option(Nbd.OPT_SET_META_CONTEXT,
        RawClient.metaData("pcache", Nbd.BASE_ALLOCATION), false)));
    n.option(Nbd.OPT_STRUCTURED_REPLY, NONE, false);
    Outcome o = n.option(Nbd.OPT_SET_META_CONTEXT, RawClient.metaData("pcache", Nbd.BASE_ALLOCATION,
        Nbd.BASE_ALLOCATION, "base:"), false);
    List<OptReply> r = replies(o);
    assertEquals(List.of(Nbd.REP_META_CONTEXT, Nbd.REP_ACK), types(o), "one context however often it is asked for");
    assertEquals(Negotiation.BASE_ALLOCATION_ID, r.getFirst().buf().getInt(0));
    assertEquals(Action.TRANSMISSION, n.option(Nbd.OPT_GO, RawClient.goData(""), false).action());
    assertEquals(Negotiation.BASE_ALLOCATION_ID, n.session().metaContextId(), "the default export is the same export");
  }

  @Test
  void metaContextForAnotherExportOrReplacedSelectionIsNotUsable() {
    Negotiation other = negotiation(TlsMode.OFF);
    other.option(Nbd.OPT_STRUCTURED_REPLY, NONE, false);
    other.option(Nbd.OPT_SET_META_CONTEXT, RawClient.metaData("small", Nbd.BASE_ALLOCATION), false);
    other.option(Nbd.OPT_GO, RawClient.goData("pcache"), false);
    assertEquals(-1, other.session().metaContextId());

    Negotiation replaced = negotiation(TlsMode.OFF);
    replaced.option(Nbd.OPT_STRUCTURED_REPLY, NONE, false);
    replaced.option(Nbd.OPT_SET_META_CONTEXT, RawClient.metaData("pcache", Nbd.BASE_ALLOCATION), false);
    assertEquals(List.of(Nbd.REP_ACK), types(replaced.option(Nbd.OPT_SET_META_CONTEXT,
        RawClient.metaData("pcache"), false)), "zero queries select nothing");
    replaced.option(Nbd.OPT_GO, RawClient.goData("pcache"), false);
    assertEquals(-1, replaced.session().metaContextId());
  }

  @Test
  void malformedMetaContextData() {
    Negotiation n = negotiation(TlsMode.OFF);
    n.option(Nbd.OPT_STRUCTURED_REPLY, NONE, false);
    for (int code : new int[] {Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT}) {
      assertEquals(Nbd.REP_ERR_INVALID, singleError(n.option(code, new byte[7], false)));
      byte[] d = RawClient.metaData("pcache", Nbd.BASE_ALLOCATION);
      ByteBuffer.wrap(d).putInt(4 + 6, 2); // claims two queries, holds one
      assertEquals(Nbd.REP_ERR_INVALID, singleError(n.option(code, d, false)));
      byte[] e = RawClient.metaData("pcache", Nbd.BASE_ALLOCATION);
      ByteBuffer.wrap(e).putInt(4 + 6 + 4, 1000); // query longer than the data
      assertEquals(Nbd.REP_ERR_INVALID, singleError(n.option(code, e, false)));
      byte[] f = RawClient.metaData("pcache", Nbd.BASE_ALLOCATION);
      ByteBuffer.wrap(f).putInt(4 + 6, -1); // four billion queries
      assertEquals(Nbd.REP_ERR_INVALID, singleError(n.option(code, f, false)));
      byte[] g = java.util.Arrays.copyOf(RawClient.metaData("pcache"), 15);
      assertEquals(Nbd.REP_ERR_INVALID, singleError(n.option(code, g, false)), "trailing bytes");
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {0, Nbd.OPT_PEEK_EXPORT, Nbd.OPT_EXTENDED_HEADERS, 12, 0x7fffffff, 0xffffffff})
  void unknownOptionsAreUnsupportedAndTheHandshakeGoesOn(int code) {
    Negotiation n = negotiation(TlsMode.OFF);
    Outcome o = n.option(code, new byte[] {1, 2, 3}, false);
    assertEquals(Nbd.REP_ERR_UNSUP, singleError(o));
    assertEquals(code, replies(o).getFirst().option());
    assertEquals(Action.CONTINUE, o.action());
    assertEquals(Action.TRANSMISSION, n.option(Nbd.OPT_GO, RawClient.goData(""), false).action());
  }

  @Test
  void oversizedOptionIsTooBig() {
    Outcome o = negotiation(TlsMode.OFF).optionTooLarge(Nbd.OPT_GO, 1 << 20);
    assertEquals(Nbd.REP_ERR_TOO_BIG, singleError(o));
    assertEquals(Action.CONTINUE, o.action());
  }

  @Test
  void tlsOffRefusesStartTls() {
    assertEquals(Nbd.REP_ERR_POLICY, singleError(negotiation(TlsMode.OFF).option(Nbd.OPT_STARTTLS, NONE, false)));
  }

  @Test
  void tlsOptionalUpgradesAndForgetsNegotiatedState() {
    Negotiation n = negotiation(TlsMode.OPTIONAL);
    n.option(Nbd.OPT_STRUCTURED_REPLY, NONE, false);
    n.option(Nbd.OPT_SET_META_CONTEXT, RawClient.metaData("pcache", Nbd.BASE_ALLOCATION), false);
    assertEquals(Nbd.REP_ERR_INVALID, singleError(n.option(Nbd.OPT_STARTTLS, new byte[1], false)), "with data");
    Outcome o = n.option(Nbd.OPT_STARTTLS, NONE, false);
    assertEquals(List.of(Nbd.REP_ACK), types(o));
    assertEquals(Action.START_TLS, o.action());
    n.tlsStarted();
    assertTrue(n.tlsActive());
    assertFalse(n.structured(), "STARTTLS discards structured replies");
    assertEquals(Nbd.REP_ERR_INVALID, singleError(n.option(Nbd.OPT_STARTTLS, NONE, false)), "TLS already active");
    n.option(Nbd.OPT_GO, RawClient.goData("pcache"), false);
    assertEquals(-1, n.session().metaContextId(), "STARTTLS discards meta contexts");
    assertTrue(n.session().tls());
  }

  @Test
  void tlsOptionalAllowsPlainText() {
    Negotiation n = negotiation(TlsMode.OPTIONAL);
    assertEquals(Action.TRANSMISSION, n.option(Nbd.OPT_GO, RawClient.goData("pcache"), false).action());
    assertFalse(n.session().tls());
  }

  @Test
  void tlsOptionalNeedsFixedNewstyle() {
    Negotiation n = new Negotiation(List.of(new Export("pcache", "", DEVICE, false)), TlsMode.OPTIONAL, MAX);
    n.clientFlags(0);
    assertEquals(Nbd.REP_ERR_POLICY, singleError(n.option(Nbd.OPT_STARTTLS, NONE, false)));
  }

  @ParameterizedTest
  @ValueSource(ints = {Nbd.OPT_LIST, Nbd.OPT_INFO, Nbd.OPT_GO, Nbd.OPT_STRUCTURED_REPLY, Nbd.OPT_LIST_META_CONTEXT,
      Nbd.OPT_SET_META_CONTEXT, Nbd.OPT_EXTENDED_HEADERS, 99})
  void tlsRequiredRefusesEverythingButStartTlsAndAbortBeforeTls(int code) {
    Negotiation n = negotiation(TlsMode.REQUIRED);
    Outcome o = n.option(code, code == Nbd.OPT_GO || code == Nbd.OPT_INFO ? RawClient.goData("pcache") : NONE, false);
    assertEquals(Nbd.REP_ERR_TLS_REQD, singleError(o));
    assertEquals(Action.CONTINUE, o.action());
  }

  @Test
  void tlsRequiredFlow() {
    Negotiation n = negotiation(TlsMode.REQUIRED);
    assertEquals(Action.DISCONNECT, n.option(Nbd.OPT_EXPORT_NAME, NONE, false).action());
    n = negotiation(TlsMode.REQUIRED);
    assertEquals(Action.ABORT, n.option(Nbd.OPT_ABORT, NONE, false).action());
    n = negotiation(TlsMode.REQUIRED);
    assertEquals(Action.START_TLS, n.option(Nbd.OPT_STARTTLS, NONE, false).action());
    n.tlsStarted();
    assertEquals(List.of(Nbd.REP_ACK), types(n.option(Nbd.OPT_STRUCTURED_REPLY, NONE, false)));
    assertEquals(Nbd.REP_ERR_UNSUP, singleError(n.option(99, NONE, false)), "after TLS, unknown is unknown again");
    assertEquals(Action.TRANSMISSION, n.option(Nbd.OPT_GO, RawClient.goData("pcache"), false).action());
    assertTrue(n.session().tls() && n.session().structured());
  }

  @ParameterizedTest
  @EnumSource(TlsMode.class)
  void shuttingDownRefusesOptionsButAbort(TlsMode mode) {
    Negotiation n = negotiation(mode);
    assertEquals(Nbd.REP_ERR_SHUTDOWN, singleError(n.option(Nbd.OPT_GO, RawClient.goData(""), true)));
    assertEquals(Nbd.REP_ERR_SHUTDOWN, singleError(n.option(Nbd.OPT_LIST, NONE, true)));
    assertEquals(Action.DISCONNECT, n.option(Nbd.OPT_EXPORT_NAME, NONE, true).action());
    assertEquals(Action.ABORT, n.option(Nbd.OPT_ABORT, NONE, true).action());
  }

  @Test
  void exportsMustBeUniqueAndPresent() {
    org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new Negotiation(List.of(), TlsMode.OFF, MAX));
    org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> new Negotiation(
        List.of(new Export("a", "", DEVICE, false), new Export("a", "", SMALL, false)), TlsMode.OFF, MAX));
  }
}

package io.pcache.frontend.nbd;

/** The server's TLS policy, in the NBD specification's terms. */
enum TlsMode {
  /** NOTLS: NBD_OPT_STARTTLS is refused with NBD_REP_ERR_POLICY. */
  OFF,
  /**
   * SELECTIVETLS with no TLS-only export: a client may upgrade with NBD_OPT_STARTTLS, and may also
   * use the export in plain text.
   */
  OPTIONAL,
  /**
   * FORCEDTLS: before TLS every option but NBD_OPT_STARTTLS and NBD_OPT_ABORT is answered with
   * NBD_REP_ERR_TLS_REQD, and NBD_OPT_EXPORT_NAME drops the connection.
   */
  REQUIRED
}

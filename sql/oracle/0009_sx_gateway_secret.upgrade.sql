-- soar-ext migration 0009 (0009_sx_gateway_secret): upgrade 0008 -> 0009
-- Rendered by soar_ext.db.migrate.write_oracle_scripts(); do not edit by hand.
-- Run with SQL*Plus or SQLcl as the SOAR schema owner, NLS_LANG=...AL32UTF8 (see README.md).
WHENEVER SQLERROR EXIT SQL.SQLCODE
SET DEFINE OFF

-- Guard: stop before any change unless the database is at revision 0008.
DECLARE
  expected VARCHAR2(32) := '0008';
  found    VARCHAR2(32);
  n        NUMBER;
BEGIN
  SELECT COUNT(*) INTO n FROM all_tables
   WHERE owner = SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') AND table_name = 'SX_SCHEMA_VERSION';
  IF n > 0 THEN
    EXECUTE IMMEDIATE 'SELECT MAX(version_num) FROM sx_schema_version' INTO found;
  END IF;
  IF NVL(found, '-') <> NVL(expected, '-') THEN
    RAISE_APPLICATION_ERROR(-20001, 'soar-ext: database is at revision ' || NVL(found, 'base')
      || ', this script needs ' || NVL(expected, 'base'));
  END IF;
END;
/

-- Running upgrade 0008 -> 0009

CREATE TABLE sx_gateway_secret (
    gateway_key VARCHAR2(64 CHAR) NOT NULL,
    app_key VARCHAR2(100 CHAR) NOT NULL,
    request_secret VARCHAR2(500 CHAR) NOT NULL,
    request_expires_at NUMERIC(16, 3) NOT NULL,
    refresh_secret VARCHAR2(500 CHAR) NOT NULL,
    refresh_expires_at NUMERIC(16, 3) NOT NULL,
    updated_at DATE NOT NULL,
    updated_by VARCHAR2(100 CHAR),
    CONSTRAINT pk_sx_gateway_secret PRIMARY KEY (gateway_key)
)

/

COMMENT ON TABLE sx_gateway_secret IS '大数据局一代网关密钥共享表（各节点共用一对请求/刷新密钥，一个节点刷新不致其他节点失效）'

/

COMMENT ON COLUMN sx_gateway_secret.gateway_key IS '网关与应用的标识（网关地址与 appKey 的摘要）'

/

COMMENT ON COLUMN sx_gateway_secret.app_key IS '应用 appKey（不是密钥）'

/

COMMENT ON COLUMN sx_gateway_secret.request_secret IS '请求密钥（AES-GCM 加密，密钥由 appSecret 派生）'

/

COMMENT ON COLUMN sx_gateway_secret.request_expires_at IS '请求密钥到期时间（Unix 时间戳，秒）'

/

COMMENT ON COLUMN sx_gateway_secret.refresh_secret IS '刷新密钥（AES-GCM 加密）'

/

COMMENT ON COLUMN sx_gateway_secret.refresh_expires_at IS '刷新密钥到期时间（Unix 时间戳，秒）'

/

COMMENT ON COLUMN sx_gateway_secret.updated_at IS '最近更新时间'

/

COMMENT ON COLUMN sx_gateway_secret.updated_by IS '最近更新的节点（主机名与进程号）'

/

UPDATE sx_schema_version SET version_num='0009' WHERE sx_schema_version.version_num = '0008'

/

COMMIT

/

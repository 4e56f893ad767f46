//! The built-in templates of the hazardous-chemicals industry (危险化学品行业).
//!
//! They follow the proposal of the reference design (IDIS secondary node, §12) and live as JSON
//! files in `templates/builtin/`, in exactly the form the REST API accepts, embedded with
//! `include_str!`. `docs/templates.md` describes them item by item. All are version 1 and have no
//! owning prefix, so every prefix of the node may use them.
//!
//! | template | name | industry (GB/T 4754-2017) |
//! |---|---|---|
//! | [`enterprise`] 企业 | `hazchem.enterprise` | C2614 有机化学原料制造 |
//! | [`product`] 化学品 (一企一品) | `hazchem.product` | C2614 |
//! | [`batch`] 批次/包装 (一企一批/一企一物) | `hazchem.batch` | C2614 |
//! | [`equipment`] 设备 | `hazchem.equipment` | C2614 |
//! | [`shipment`] 运输 (电子运单) | `hazchem.shipment` | G5435 危险货物道路运输 |
//!
//! A template carries one four-level class; C2614 stands for the chemical producers the
//! templates were written for (C26 化学原料和化学制品制造). A node that serves, say, dangerous
//! goods warehouses (G5942 危险化学品仓储) or reagent makers (C2661) copies a template under its
//! own name and class; the items do not depend on the class.

use std::sync::LazyLock;

use crate::template::Template;

/// The JSON form of the enterprise template.
pub const ENTERPRISE_JSON: &str = include_str!("../builtin/enterprise.json");
/// The JSON form of the chemical product template.
pub const PRODUCT_JSON: &str = include_str!("../builtin/product.json");
/// The JSON form of the batch or package template.
pub const BATCH_JSON: &str = include_str!("../builtin/batch.json");
/// The JSON form of the equipment template.
pub const EQUIPMENT_JSON: &str = include_str!("../builtin/equipment.json");
/// The JSON form of the shipment template.
pub const SHIPMENT_JSON: &str = include_str!("../builtin/shipment.json");

/// The built-in templates, parsed and checked once, in the order of the table above.
static ALL: LazyLock<[Template; 5]> = LazyLock::new(|| {
    [
        ENTERPRISE_JSON,
        PRODUCT_JSON,
        BATCH_JSON,
        EQUIPMENT_JSON,
        SHIPMENT_JSON,
    ]
    .map(|json| {
        // The files are part of the crate and the tests parse and check every one of them, so
        // a failure here is a build defect, not an input error.
        Template::from_json(json).unwrap_or_else(|e| panic!("built-in template is invalid: {e}"))
    })
});

/// Every built-in template: enterprise, product, batch, equipment, shipment.
pub fn all() -> &'static [Template] {
    ALL.as_slice()
}

/// The built-in template named `name` (`hazchem.product`), if any.
pub fn by_name(name: &str) -> Option<&'static Template> {
    all().iter().find(|t| t.name == name)
}

/// 企业 (enterprise), `hazchem.enterprise`: an enterprise that produces, uses, stores, trades or
/// carries hazardous chemicals, keyed by its unified social credit code.
///
/// Items: 2000 `uscc` 统一社会信用代码 (GB 32100 check; required, indexed), 2001 `orgName`
/// 企业名称 (required, indexed), 2002 `industryCode` 国民经济行业代码 (GB/T 4754-2017 class;
/// required), 2003 `regionCode` 行政区划代码 (GB/T 2260; required), 2004 `address` 注册地址
/// (required), 2005 `chemPark` 所在化工园区 (indexed), 2006 `safetyLicenseNo` 安全生产许可证号,
/// 2007 `hazchemRegCertNo` 危险化学品登记证号, 2008 `operatingLicenseNo` 危险化学品经营许可证号,
/// 2009 `majorHazardLevel` 重大危险源等级 (一级 to 四级), 2010 `emergencyPhone` 应急电话,
/// 2011 `contact` 联系人 (personal data: store it admin-read only).
pub fn enterprise() -> &'static Template {
    &ALL[0]
}

/// 化学品 (chemical product, 一企一品), `hazchem.product`: one product of one enterprise.
///
/// Items: 2000 `productName` 产品名称 (required, indexed), 2001 `casNo` CAS号 (JSON array of
/// checked CAS numbers, `[]` for a mixture without declared components; required, indexed),
/// 2002 `unNo` UN号 (indexed), 2003 `cnDgNo` 危规号 (indexed), 2004 `catalogSeq`
/// 危险化学品目录序号 (1–2828, the 2015 catalogue), 2005 `safetyInfoCode` 危险化学品登记号/安全信息码
/// (indexed), 2006 `ghsClass` GHS分类 (list of class and category texts), 2007 `pictograms` 象形图
/// (list of GHS01–GHS09), 2008 `signalWord` 信号词 (危险/警告), 2009 `sds` 安全技术说明书 (URL or
/// handle of the SDS file), 2010 `manufacturer` 生产企业 (enterprise handle; required),
/// 2011 `controlFlags` 管控属性 (list of 剧毒/易制爆/易制毒/重点监管), 2012 `trace` 追溯记录 (URL),
/// 2013 `productNameEn` 英文名称 (indexed), 2014 `hazardStatements` 危险说明 (GHS H codes).
pub fn product() -> &'static Template {
    &ALL[1]
}

/// 批次/包装 (batch or package, 一企一批/一企一物), `hazchem.batch`: a production lot of a
/// product, or one package of it.
///
/// Items: 2000 `product` 产品标识 (product handle; required), 2001 `batchNo` 批号 (required,
/// indexed), 2002 `productionDate` 生产日期 (not after today; required), 2003 `netQuantity` 净含量
/// (number ≥ 0; required), 2004 `packageCode` 包装代码 (UN packaging code such as `1A1`),
/// 2005 `packingGroup` 包装类别 (I/II/III), 2006 `expiryDate` 有效期, 2007 `parent`
/// 上级包装/容器 (handle of the pallet, IBC or tank), 2008 `gs1Key` GS1标识 (Digital Link URI),
/// 2009 `quantityUnit` 计量单位 (kg, t, g, L, mL, m3; required), 2010 `packageId` 包装标识码
/// (the package's own code; indexed).
pub fn batch() -> &'static Template {
    &ALL[2]
}

/// 设备 (equipment), `hazchem.equipment`: a tank, reactor, pressure vessel, pipeline, tank
/// vehicle or cylinder.
///
/// Items: 2000 `equipmentType` 设备类别 (储罐/反应釜/压力容器/管道/罐车/气瓶; required),
/// 2001 `tagNo` 位号 (required, indexed), 2002 `owner` 所属企业 (enterprise handle; required),
/// 2003 `specialEquipRegCode` 特种设备注册代码 (indexed), 2004 `manufacturer` 制造商,
/// 2005 `lastInspection` 检验日期 (not after today), 2006 `nextInspection` 下次检验日期,
/// 2007 `majorHazardSource` 所属重大危险源 (handle), 2008 `gs1Key` GS1 GIAI/GRAI (URL).
pub fn equipment() -> &'static Template {
    &ALL[3]
}

/// 运输 (shipment, 电子运单, 一车一趟一单), `hazchem.shipment`: one road trip of one vehicle under
/// one e-waybill.
///
/// Items: 2000 `waybillNo` 电子运单号 (required, indexed), 2001 `consignor` 托运人, 2002 `carrier`
/// 承运人 and 2003 `consignee` 收货人 (enterprise handles; required), 2004 `loader` 装货人 (handle),
/// 2005 `vehicle` 车牌号 (plate; required, indexed), 2006 `unNo` UN号 (required, indexed),
/// 2007 `origin` 起运地 and 2008 `destination` 目的地 (address text; required), 2009 `status` 状态
/// (created/loaded/in_transit/delivered/closed; required), 2010 `batches` 关联批次 (list of batch
/// handles), 2011 `crew` 驾驶员/押运员 (list of keyed hashes, 64 hex digits), 2012 `quantity` 数量
/// (required), 2013 `quantityUnit` 计量单位 (required), 2014 `originRegion` and
/// 2015 `destinationRegion` (GB/T 2260 codes), 2016 `trailer` 挂车号牌 (plate),
/// 2017 `roadTransportCertNo` 道路运输证号.
pub fn shipment() -> &'static Template {
    &ALL[4]
}

#[cfg(test)]
mod tests {
    use idnode_proto::{Handle, HandleValue};

    use super::*;
    use crate::{Date, LookupError, validate};

    fn today() -> Date {
        Date::new(2024, 6, 1).unwrap()
    }

    fn exists(_: &Handle) -> Result<bool, LookupError> {
        Ok(true)
    }

    /// A record of `template` with the link value and `(idType, text)` pairs.
    fn record(template: &Template, data: &[(&str, &str)]) -> Vec<HandleValue> {
        let mut values = vec![template.link_value()];
        for (id_type, text) in data {
            let item = template.item_by_type(id_type).unwrap();
            values.push(HandleValue::new(item.index, *id_type, *text));
        }
        values
    }

    fn indexed(template: &Template) -> Vec<&str> {
        template
            .items
            .iter()
            .filter(|i| i.indexed)
            .map(|i| i.id_type.as_str())
            .collect()
    }

    #[test]
    fn every_builtin_is_consistent() {
        let names: Vec<&str> = all().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "hazchem.enterprise",
                "hazchem.product",
                "hazchem.batch",
                "hazchem.equipment",
                "hazchem.shipment"
            ]
        );
        for t in all() {
            assert_eq!(t.check(), Ok(()), "{}", t.name);
            assert_eq!(t.version, 1);
            assert_eq!(t.prefix, None);
            assert!(t.items.iter().all(|i| i.index >= 2000 && i.enabled));
            assert_eq!(by_name(&t.name), Some(t));
            // The JSON form round-trips.
            assert_eq!(Template::from_json(&t.to_json()).as_ref(), Ok(t));
        }
        assert_eq!(shipment().industry_code, "G5435");
        assert_eq!(enterprise().industry_code, "C2614");
        assert_eq!(by_name("hazchem.other"), None);
    }

    #[test]
    fn indexed_items() {
        assert_eq!(indexed(enterprise()), ["uscc", "orgName", "chemPark"]);
        assert_eq!(
            indexed(product()),
            [
                "productName",
                "casNo",
                "unNo",
                "cnDgNo",
                "safetyInfoCode",
                "productNameEn"
            ]
        );
        assert_eq!(indexed(batch()), ["batchNo", "packageId"]);
        assert_eq!(indexed(equipment()), ["tagNo", "specialEquipRegCode"]);
        assert_eq!(indexed(shipment()), ["waybillNo", "vehicle", "unNo"]);
    }

    #[test]
    fn enterprise_records() {
        let t = enterprise();
        let good = record(
            t,
            &[
                ("uscc", "91350100M000100Y43"),
                ("orgName", "福建省某化工有限公司"),
                ("industryCode", "C2614"),
                ("regionCode", "350100"),
                ("address", "福建省福州市某路1号"),
                ("majorHazardLevel", "三级"),
                ("emergencyPhone", "0591-12345678"),
            ],
        );
        assert_eq!(validate(t, &good, &exists, today()), Ok(()));
        let bad = record(
            t,
            &[
                ("uscc", "91350100M000100Y44"),
                ("orgName", "某公司"),
                ("industryCode", "C26"),
                ("regionCode", "350100"),
                ("address", "某地"),
                ("majorHazardLevel", "五级"),
            ],
        );
        let texts: Vec<String> = validate(t, &bad, &exists, today())
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            texts,
            [
                "统一社会信用代码 (uscc, index 2000): check digit does not match",
                "国民经济行业代码 (industryCode, index 2002): expected a four-level GB/T 4754-2017 class: a letter and 4 digits",
                "重大危险源等级 (majorHazardLevel, index 2009): not one of 一级, 二级, 三级, 四级",
            ]
        );
    }

    #[test]
    fn product_records() {
        let t = product();
        let good = record(
            t,
            &[
                ("productName", "丙酮"),
                ("productNameEn", "acetone"),
                ("casNo", r#"["67-64-1"]"#),
                ("unNo", "UN1090"),
                ("cnDgNo", "31025"),
                ("catalogSeq", "137"),
                (
                    "ghsClass",
                    r#"["易燃液体, 类别2","严重眼损伤/眼刺激, 类别2A"]"#,
                ),
                ("pictograms", r#"["GHS02","GHS07"]"#),
                ("signalWord", "危险"),
                ("hazardStatements", r#"["H225","H319","H336"]"#),
                ("sds", "https://example.com/sds/acetone.pdf"),
                ("manufacturer", "88.118.8/E.91350100M000100Y43"),
                ("controlFlags", r#"["重点监管"]"#),
            ],
        );
        assert_eq!(validate(t, &good, &exists, today()), Ok(()));
        // A mixture without declared components.
        let mixture = record(
            t,
            &[
                ("productName", "某混合物"),
                ("casNo", "[]"),
                ("manufacturer", "88.118.8/E.91350100M000100Y43"),
            ],
        );
        assert_eq!(validate(t, &mixture, &exists, today()), Ok(()));
        let bad = record(
            t,
            &[
                ("productName", "丙酮"),
                ("casNo", r#"["67-64-2"]"#),
                ("unNo", "1O90"),
                ("manufacturer", "88.118.8/E.91350100M000100Y43"),
                ("pictograms", r#"["GHS10"]"#),
            ],
        );
        let texts: Vec<String> = validate(t, &bad, &exists, today())
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            texts,
            [
                "CAS号 (casNo, index 2001): element 1 (\"67-64-2\"): check digit does not match",
                "UN号 (unNo, index 2002): expected a UN number: 4 digits, optionally after UN",
                "象形图 (pictograms, index 2007): element 1 (\"GHS10\"): not one of GHS01, GHS02, GHS03, GHS04, GHS05, GHS06, GHS07, GHS08, GHS09",
            ]
        );
    }

    #[test]
    fn batch_records() {
        let t = batch();
        let good = record(
            t,
            &[
                ("product", "88.118.8/P.137.AC-99"),
                ("batchNo", "20240520-01"),
                ("productionDate", "2024-05-20"),
                ("netQuantity", "160"),
                ("quantityUnit", "kg"),
                ("packageCode", "1A1"),
                ("packingGroup", "II"),
                ("expiryDate", "2026-05-19"),
            ],
        );
        assert_eq!(validate(t, &good, &exists, today()), Ok(()));
        let bad = record(
            t,
            &[
                ("product", "88.118.8/P.137.AC-99"),
                ("batchNo", "20240520-01"),
                ("productionDate", "2024-07-01"),
                ("netQuantity", "-1"),
                ("quantityUnit", "桶"),
            ],
        );
        assert_eq!(validate(t, &bad, &exists, today()).unwrap_err().len(), 3);
    }

    #[test]
    fn equipment_records() {
        let t = equipment();
        let good = record(
            t,
            &[
                ("equipmentType", "储罐"),
                ("tagNo", "T-101"),
                ("owner", "88.118.8/E.91350100M000100Y43"),
                ("specialEquipRegCode", "21103502002015060001"),
                ("lastInspection", "2023-09-01"),
                ("nextInspection", "2026-09-01"),
                ("majorHazardSource", "88.118.8/M.001"),
            ],
        );
        assert_eq!(validate(t, &good, &exists, today()), Ok(()));
        let bad = record(
            t,
            &[
                ("equipmentType", "tank"),
                ("tagNo", "T-101"),
                ("owner", "88.118.8/E.91350100M000100Y43"),
            ],
        );
        assert_eq!(validate(t, &bad, &exists, today()).unwrap_err().len(), 1);
    }

    #[test]
    fn shipment_records() {
        let t = shipment();
        let good = record(
            t,
            &[
                ("waybillNo", "350100202406010001"),
                ("consignor", "88.118.8/E.91350100M000100Y43"),
                ("carrier", "88.118.8/E.91110000600037341L"),
                ("consignee", "88.118.8/E.91440300708461136T"),
                ("vehicle", "闽A12345"),
                ("trailer", "闽A1234挂"),
                ("unNo", "UN1090"),
                ("quantity", "20"),
                ("quantityUnit", "t"),
                ("origin", "福建省福州市"),
                ("destination", "广东省深圳市"),
                ("originRegion", "350100"),
                ("destinationRegion", "440300"),
                ("status", "in_transit"),
                ("batches", r#"["88.118.8/B.137.20240520-01"]"#),
                ("crew", &format!(r#"["{}"]"#, "ab".repeat(32))),
            ],
        );
        assert_eq!(validate(t, &good, &exists, today()), Ok(()));
        let bad = record(
            t,
            &[
                ("waybillNo", "350100202406010001"),
                ("consignor", "88.118.8/E.91350100M000100Y43"),
                ("carrier", "88.118.8/E.91110000600037341L"),
                ("consignee", "88.118.8/E.91440300708461136T"),
                ("vehicle", "闽A1234"),
                ("unNo", "UN1090"),
                ("quantity", "20"),
                ("quantityUnit", "t"),
                ("origin", "福州"),
                ("destination", "深圳"),
                ("status", "lost"),
            ],
        );
        assert_eq!(validate(t, &bad, &exists, today()).unwrap_err().len(), 2);
    }
}

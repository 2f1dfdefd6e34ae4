//! Storage of delivery points (*puntos de atención*): where each service is delivered, per
//! district, department or nation — loaded from a file and read by routes and Orientaciones.

use crate::sql::{in_tx, Row};
use crate::Result;
use serde::Serialize;

/// A place where a service is delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DeliveryPoint {
    pub institution: String,
    pub service: String,
    /// `distrito`, `departamento`, `nacional` or `remoto`.
    pub level: String,
    /// `DDdd`, `DD` or `PY`.
    pub territory: String,
    pub name: String,
    pub address: Option<String>,
    pub hours: Option<String>,
    pub contact: Option<String>,
    /// An Espacio SPS (a point of ORIENTACIONES SPS): the services it hosts, as written.
    #[serde(default)]
    pub hosted_services: Option<String>,
    /// An Espacio SPS: the code of the Mesa de Protección Social that meets there.
    #[serde(default)]
    pub mesa_body: Option<String>,
}

/// Adds or replaces delivery points (by service, territory and name), in one transaction.
pub fn upsert_delivery_points(
    sql: &mut crate::sql::Db<'_>,
    points: &[DeliveryPoint],
) -> Result<u64> {
    let sql = sql.raw();
    in_tx(sql, |sql| {
        for p in points {
            sql.execute(
                "INSERT INTO delivery_points (institution, service, level, territory, name, address, hours, contact, hosted_services, mesa_body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (service, territory, name) DO UPDATE SET institution = excluded.institution,
                     level = excluded.level, address = excluded.address, hours = excluded.hours,
                     contact = excluded.contact, hosted_services = excluded.hosted_services,
                     mesa_body = excluded.mesa_body",
                &[
                    p.institution.as_str().into(),
                    p.service.as_str().into(),
                    p.level.as_str().into(),
                    p.territory.as_str().into(),
                    p.name.as_str().into(),
                    p.address.clone().into(),
                    p.hours.clone().into(),
                    p.contact.clone().into(),
                    p.hosted_services.clone().into(),
                    p.mesa_body.clone().into(),
                ],
            )?;
        }
        Ok(points.len() as u64)
    })
}

/// Every delivery point, by service and territory.
pub fn delivery_points_all(sql: &mut crate::sql::Db<'_>) -> Result<Vec<DeliveryPoint>> {
    let sql = sql.raw();
    Ok(sql
        .query(
            "SELECT institution, service, level, territory, name, address, hours, contact, hosted_services, mesa_body FROM delivery_points ORDER BY service, territory, name",
            &[],
        )?
        .iter()
        .map(point)
        .collect())
}

fn point(r: &Row) -> DeliveryPoint {
    DeliveryPoint {
        institution: r.text(0),
        service: r.text(1),
        level: r.text(2),
        territory: r.text(3),
        name: r.text(4),
        address: r.string(5),
        hours: r.string(6),
        contact: r.string(7),
        hosted_services: r.string(8),
        mesa_body: r.string(9),
    }
}

/// Delivery points serving a district: its own, its department's, national and remote ones.
pub fn delivery_points_for(
    sql: &mut crate::sql::Db<'_>,
    district: &str,
) -> Result<Vec<DeliveryPoint>> {
    let sql = sql.raw();
    let dept = district.get(..2).unwrap_or("");
    Ok(sql
        .query(
            "SELECT institution, service, level, territory, name, address, hours, contact, hosted_services, mesa_body FROM delivery_points
             WHERE territory IN ($1, $2, 'PY') ORDER BY service, length(territory) DESC, name",
            &[district.into(), dept.into()],
        )?
        .iter()
        .map(point)
        .collect())
}

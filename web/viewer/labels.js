// Vietnamese names for the canonical layers and fields (English kept where it helps operators
// match the API). Unknown names are shown as they are.

const LAYERS = {
  province: 'Ranh giới tỉnh',
  wards: 'Phường/xã',
  parcels: 'Thửa đất',
  buildings: 'Công trình, nhà',
  housing: 'Hộ gia đình, nhà ở',
  roads: 'Đường giao thông',
  water: 'Mặt nước',
  schools: 'Trường học',
  health_stations: 'Trạm y tế',
  places: 'Địa danh',
  street_lights: 'Đèn chiếu sáng',
  industrial_parks: 'Khu công nghiệp',
  env_sensors: 'Cảm biến môi trường',
  water_level_sensors: 'Cảm biến mực nước',
  planning_zones: 'Phân khu quy hoạch',
  fishing_zones: 'Vùng khai thác thủy sản',
  vessels: 'Tàu cá',
  temporary_houses: 'Nhà tạm',
  poor_households: 'Hộ nghèo',
};

const FIELDS = {
  code: 'Mã',
  name: 'Tên',
  level: 'Cấp',
  population: 'Dân số',
  land_use: 'Mục đích sử dụng đất',
  area_m2: 'Diện tích (m²)',
  sheet_no: 'Số tờ',
  parcel_no: 'Số thửa',
  address: 'Địa chỉ',
  floors: 'Số tầng',
  height_m: 'Chiều cao (m)',
  base_height_m: 'Cao độ nền (m)',
  temporary_house: 'Nhà tạm',
  use: 'Công năng',
  household_size: 'Số nhân khẩu',
  poor_household: 'Hộ nghèo',
  near_poor_household: 'Hộ cận nghèo',
  asset_type: 'Loại tài sản',
  status: 'Trạng thái',
  lanes: 'Số làn',
  category: 'Loại',
  capacity: 'Quy mô',
  has_fire_alarm: 'Có báo cháy',
  power_w: 'Công suất (W)',
  energy_kwh_month: 'Điện năng (kWh/tháng)',
  zone_code: 'Mã phân khu',
  land_use_function: 'Chức năng',
  decision_no: 'Số quyết định',
  max_floors: 'Tầng cao tối đa',
  device_type: 'Loại thiết bị',
  value: 'Giá trị đo',
  limit: 'Ngưỡng',
  unit: 'Đơn vị',
  violation: 'Vượt ngưỡng',
  alert_level: 'Mức cảnh báo',
  permitted: 'Được phép khai thác',
  vessel_id: 'Số hiệu tàu',
  speed_kn: 'Tốc độ (hải lý/giờ)',
  signal_lost: 'Mất tín hiệu',
  in_permitted_zone: 'Trong vùng cho phép',
  distance_m: 'Khoảng cách (m)',
  count: 'Số lượng',
  sum: 'Tổng',
  length_m: 'Chiều dài (m)',
};

export function layerLabel(id) {
  return LAYERS[id] || id;
}

export function fieldLabel(name) {
  return FIELDS[name] || name;
}

/** Names of coded values (land-use codes of Circular 08/2024/TT-BTNMT, statuses). */
const VALUES = {
  land_use: {
    ODT: 'Đất ở tại đô thị', ONT: 'Đất ở tại nông thôn', LUC: 'Đất chuyên trồng lúa', LUK: 'Đất trồng lúa còn lại',
    BHK: 'Đất trồng cây hằng năm khác', CLN: 'Đất trồng cây lâu năm', NTS: 'Đất nuôi trồng thủy sản', RSX: 'Đất rừng sản xuất',
    RPH: 'Đất rừng phòng hộ', TMD: 'Đất thương mại, dịch vụ', SKC: 'Đất cơ sở sản xuất phi nông nghiệp', SKK: 'Đất khu công nghiệp',
    DGD: 'Đất xây dựng cơ sở giáo dục', DYT: 'Đất xây dựng cơ sở y tế', DGT: 'Đất giao thông', DTL: 'Đất thủy lợi',
    TSC: 'Đất trụ sở cơ quan', CQP: 'Đất quốc phòng', CAN: 'Đất an ninh', SON: 'Đất sông, ngòi, kênh, rạch', NTD: 'Đất nghĩa trang',
    DVH: 'Đất xây dựng cơ sở văn hóa', DTT: 'Đất xây dựng cơ sở thể dục, thể thao', DKV: 'Đất khu vui chơi, giải trí công cộng',
  },
  status: {
    ok: 'bình thường', working: 'hoạt động', on: 'đang bật', off: 'tắt', broken: 'hỏng', fault: 'sự cố', faulty: 'sự cố',
    maintenance: 'bảo trì', offline: 'mất kết nối', active: 'hoạt động', alert: 'cảnh báo', good: 'tốt', poor: 'kém',
  },
};

VALUES.land_use_function = VALUES.land_use;

/** "ODT — Đất ở tại đô thị" for a coded value; `fallback` when the value has no known name. */
export function valueLabel(field, value, fallback) {
  const name = VALUES[field] && VALUES[field][value];
  return name ? `${value} — ${name}` : fallback;
}

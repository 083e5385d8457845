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
